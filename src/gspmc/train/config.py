"""Training configuration: typed dataclasses are the schema, YAML files the values.

A config file has the sections ``data``, ``input``, ``augment``, ``model``, ``optim``, ``trainer``
and ``mc`` (all optional; defaults below). Every key is checked against the dataclass fields:
an unknown key, a value of the wrong type or an out-of-range value raises :class:`ConfigError`
naming the key (and the file). ``--set section.key=value`` overrides are applied to the raw
mapping before checking, with the value parsed as YAML (``--set optim.milestones=[5,8]``).

``input`` holds the fields of :class:`gspmc.pose.transforms.InputConfig` and ``augment`` those of
:class:`gspmc.pose.transforms.AugmentConfig` (``augment: null`` trains without augmentation);
``model`` holds ``profile`` (a :func:`gspmc.models.get_profile` name) plus any
:class:`gspmc.models.ModelConfig` field, which then replaces the profile's value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gspmc.errors import ConfigError
from gspmc.io import plain
from gspmc.paths import package_path
from gspmc.pose.transforms import AugmentConfig, InputConfig

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")
OPTIMIZERS = ("sgd", "adamw")
CONFIG_DIR = package_path("configs")  # the shipped configs (package data)
STORE_DIR = package_path("descriptions")  # the shipped description stores (package data)


@dataclass
class DataConfig:
    """Which clips, and how they are split (see :mod:`gspmc.data.protocols`, docs/data.md)."""

    dataset: str = "traduttore"  # a name (traduttore), a reader format, or "auto": guessed from data.path
    path: str | None = None  # file or folder; None: the dataset's default under gspmc.paths.data_dir()
    protocol: str = "traduttore-xsigner"  # a preset, or leave-one-group-out | group-kfold | split-file
    fold: str | None = "TheCamNelson"  # one fold of the protocol ("all": every fold, gspmc grid only)
    group: str = "signer"  # leave-one-group-out / group-kfold: signer, session or any per-clip meta column
    k: int = 5  # group-kfold: number of folds
    split_file: str | None = None  # split-file: CSV id,split (train / val / test)
    val_fraction: float = 0.1  # generic protocols: share of the training side carved out for validation
    split_seed: int = 0  # seeds the validation carve-out; the same for every training seed
    val_group: str | None = None  # leave-one-group-out: validate on this training-side group instead
    per_class: int | None = None  # data-efficiency runs: at most k training clips per class (None: all)
    per_class_seed: int | None = None  # the subset's seed (None: trainer.seed; CE and GSP-MC of a seed share it)
    match_steps: bool = True  # with per_class: an epoch draws as many clips as the full training split
    window_from_data: bool = False  # set by `input.window: auto`: T = the clips' median frame count
    options: dict[str, Any] = field(default_factory=dict)  # extra reader arguments (e.g. label files, pattern)


@dataclass
class ModelSection:
    """A model profile plus field overrides (flattened in YAML: ``model: {profile: full, dropout: 0.1}``)."""

    profile: str = "cpu-small"  # gspmc.models.get_profile name: "cpu-small" | "full"
    overrides: dict[str, Any] = field(default_factory=dict)  # ModelConfig field -> value


@dataclass
class OptimConfig:
    """SGD with Nesterov momentum, per-step linear warm-up, then step decay at epoch milestones."""

    lr: float = 0.06  # peak learning rate (reached at the end of warm-up)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 120
    epochs: int = 110
    warmup_epochs: float = 5.0  # linear warm-up from lr/steps to lr, per optimisation step
    milestones: tuple[int, ...] = (90, 100)  # epochs at which lr is multiplied by gamma
    gamma: float = 0.1
    label_smoothing: float = 0.0  # cross-entropy label smoothing (off by default)
    name: str = "sgd"  # "sgd" (Nesterov; decay on every weight) | "adamw" (decoupled; no decay on biases, norms)
    mixup: float = 0.0  # mixup on every batch, lam ~ Beta(a, a) with this a (0: off); labels mixed alike
    awp: float = 0.0  # adversarial weight perturbation, relative size gamma (0: off)
    awp_epoch: int = 0  # first (0-based) epoch with AWP on


@dataclass
class TrainerConfig:
    """Run-time settings handed to ``lightning.Trainer``."""

    seed: int = 0  # seeds weights, augmentation and data order (seed_everything + workers)
    precision: str = "32-true"  # "auto" (bf16 where the hardware computes it natively), "bf16-mixed", ...
    accelerator: str = "auto"
    devices: str = "auto"  # "auto", a count ("2") or a list ("[0,1]")
    strategy: str = "auto"  # "ddp" for several GPUs
    num_nodes: int = 1  # machines in a multi-node DDP run (docs/training.md)
    num_workers: int = 0  # DataLoader worker processes
    eval_batch_size: int = 256
    threads: int | None = None  # torch.set_num_threads for this process; None: torch's default
    log_every_n_steps: int = 10
    progress_bar: bool = True
    limit_train_batches: float = 1.0  # fraction of the training batches per epoch (quick checks only)
    test: bool = True  # score the test split at the end; false for hyper-parameter searches (validation only)


@dataclass
class MCConfig:
    """Hook for the multi-positive contrastive objective (gspmc.losses.GSPMCObjective, Eq. 11-12).

    When enabled, the loss is ``CE + alpha * L_multi`` with ``L_multi`` computed from the encoder's
    global and part features; ``options`` goes unchanged to ``GSPMCObjective.from_config``.
    """

    enabled: bool = False
    alpha: float = 0.5  # Eq. 12
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    """One training run: data, input pipeline, model, optimisation, run-time, contrastive objective."""

    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    input: InputConfig = field(default_factory=InputConfig)  # one source of input defaults: InputConfig
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    model: ModelSection = field(default_factory=ModelSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    mc: MCConfig = field(default_factory=MCConfig)


# ----------------------------------------------------------------------------------------------
# loading


def find_config(name_or_path: str | Path) -> Path:
    """A config path as given, or the shipped ``gspmc/configs/<name>.yaml`` for a bare name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = CONFIG_DIR / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    if candidate.is_file() and len(path.parts) == 1:
        return candidate
    raise ConfigError(f"{name_or_path}: config file not found (nor {candidate})")


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config (``None``: all defaults), apply ``key=value`` overrides, check and resolve it."""
    raw: dict[str, Any] = {}
    where = "<defaults>"
    if path is not None:
        file = find_config(path)
        where = str(file)
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(f"{file}: not valid YAML: {err}") from err
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: expected a mapping of sections, got {type(loaded).__name__}")
        raw = loaded
    in_file = _store_of(raw)
    for item in overrides:
        apply_override(raw, item)
    store = _store_of(raw)
    if store:  # written in the file: against the file's folder; given with --set: against the working directory
        base = Path(where).parent if path is not None and store == in_file else Path.cwd()
        raw["mc"]["options"]["store"] = str(resolve_store(store, base))
    try:
        return config_from_dict(raw)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _store_of(raw: dict[str, Any]) -> str | None:
    """``mc.options.store`` of a raw config mapping, when it is a non-empty string."""
    mc = raw.get("mc")
    options = mc.get("options") if isinstance(mc, dict) else None
    store = options.get("store") if isinstance(options, dict) else None
    return store if isinstance(store, str) and store else None


def resolve_store(store: str | Path, base: Path) -> Path:
    """Where a description store named in a config is: an absolute path as given; a relative one
    against ``base`` (the config file's folder, or the working directory for a ``--set`` value), then
    among the shipped stores (``gspmc/descriptions``, by the path as written, then by its file name, so
    the older ``descriptions/X.jsonl`` still finds the shipped X). The result is absolute, so a run
    records which file it read.

    Raises:
        ConfigError: no candidate exists (the message lists them).
    """
    p = Path(store).expanduser()
    if p.is_absolute():
        return p
    candidates = [base / p, STORE_DIR / p, STORE_DIR / p.name]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    raise ConfigError(f"mc.options.store {str(store)!r}: no such description store (looked at "
                      f"{', '.join(str(c) for c in dict.fromkeys(candidates))})")


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override (value parsed as YAML) to a raw config mapping."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. optim.lr=0.1")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {item!r}: value is not valid YAML: {err}") from err
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build and check a :class:`Config` from a plain mapping (as read from YAML or a checkpoint)."""
    raw = dict(raw)
    model_raw = raw.pop("model", None)
    if isinstance(raw.get("input"), dict) and raw["input"].get("window") == "auto":  # T from the data
        raw["input"] = {k: v for k, v in raw["input"].items() if k != "window"}
        raw["data"] = {**(raw.get("data") or {}), "window_from_data": True}
    cfg = _build(Config, raw, "", skip=("model",))
    if model_raw is not None:
        cfg.model = _model_section(model_raw)
    validate(cfg)
    return cfg


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Plain-data form of a config (YAML/JSON-safe; ``config_from_dict`` reads it back)."""
    out = plain(dataclasses.asdict(cfg))
    model = out.pop("model")
    out["model"] = {"profile": model["profile"], **model["overrides"]}
    return out


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def validate(cfg: Config) -> None:
    """Range and consistency checks that the type system does not express."""
    o = cfg.optim
    checks = [
        (o.lr > 0, "optim.lr", f"must be > 0, got {o.lr}"),
        (o.batch_size >= 1, "optim.batch_size", f"must be >= 1, got {o.batch_size}"),
        (o.epochs >= 1, "optim.epochs", f"must be >= 1, got {o.epochs}"),
        (o.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {o.weight_decay}"),
        (0 <= o.warmup_epochs <= o.epochs, "optim.warmup_epochs", f"must be in [0, epochs], got {o.warmup_epochs}"),
        (0 < o.gamma <= 1, "optim.gamma", f"must be in (0, 1], got {o.gamma}"),
        (0 <= o.momentum < 1, "optim.momentum", f"must be in [0, 1), got {o.momentum}"),
        (0 <= o.label_smoothing < 1, "optim.label_smoothing", f"must be in [0, 1), got {o.label_smoothing}"),
        (o.name in OPTIMIZERS, "optim.name", f"must be one of {', '.join(OPTIMIZERS)}, got {o.name!r}"),
        (o.mixup >= 0, "optim.mixup", f"must be >= 0, got {o.mixup}"),
        (o.awp >= 0, "optim.awp", f"must be >= 0, got {o.awp}"),
        (o.awp_epoch >= 0, "optim.awp_epoch", f"must be >= 0, got {o.awp_epoch}"),
        (list(o.milestones) == sorted(set(o.milestones)), "optim.milestones",
         f"must be strictly increasing, got {list(o.milestones)}"),
        (cfg.input.stream in STREAMS, "input.stream", f"must be one of {', '.join(STREAMS)}; got {cfg.input.stream!r}"),
        (cfg.input.window >= 1, "input.window", f"must be >= 1, got {cfg.input.window}"),
        (cfg.trainer.num_workers >= 0, "trainer.num_workers", f"must be >= 0, got {cfg.trainer.num_workers}"),
        (cfg.trainer.num_nodes >= 1, "trainer.num_nodes", f"must be >= 1, got {cfg.trainer.num_nodes}"),
        (cfg.trainer.eval_batch_size >= 1, "trainer.eval_batch_size", "must be >= 1"),
        (cfg.trainer.threads is None or cfg.trainer.threads >= 1, "trainer.threads", "must be >= 1 or null"),
        (0 < cfg.trainer.limit_train_batches <= 1, "trainer.limit_train_batches", "must be in (0, 1]"),
        (cfg.mc.alpha >= 0, "mc.alpha", f"must be >= 0, got {cfg.mc.alpha}"),
        *_data_checks(cfg.data),
    ]
    for ok, key, problem in checks:
        if not ok:
            raise ConfigError(f"{key}: {problem}")
    if cfg.mc.enabled:  # check the contrastive options now, not after the data is read
        from gspmc.losses.objective import MCOptions

        MCOptions.from_dict(cfg.mc.options)


def _data_checks(d: DataConfig) -> list[tuple[bool, str, str]]:
    """The data section's range checks (protocol names and files are checked when the data is split)."""
    return [
        (d.k >= 2, "data.k", f"must be >= 2, got {d.k}"),
        (0 <= d.val_fraction < 1, "data.val_fraction", f"must be in [0, 1), got {d.val_fraction}"),
        (d.per_class is None or d.per_class >= 1, "data.per_class", f"must be >= 1 or null, got {d.per_class}"),
    ]


# ----------------------------------------------------------------------------------------------
# generic typed construction


def _model_section(raw: Any) -> ModelSection:
    from gspmc.models import ModelConfig, get_profile

    if not isinstance(raw, dict):
        raise ConfigError(f"model: expected a mapping, got {type(raw).__name__}")
    raw = dict(raw)
    profile = raw.pop("profile", ModelSection.profile)
    if not isinstance(profile, str):
        raise ConfigError(f"model.profile: expected a profile name, got {profile!r}")
    nested = raw.pop("overrides", None) or {}
    if not isinstance(nested, dict):
        raise ConfigError("model.overrides: expected a mapping")
    raw.update(nested)
    try:
        get_profile(profile)
    except (KeyError, ValueError) as err:
        raise ConfigError(f"model.profile: {err}") from None
    known = {f.name: f for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"model: unknown key(s) {', '.join(unknown)} (known: profile, {', '.join(known)})")
    hints = typing.get_type_hints(ModelConfig)
    overrides = {k: plain(_coerce(v, hints[k], f"model.{k}")) for k, v in raw.items()}
    try:
        get_profile(profile, **overrides)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model: {err}") from None
    return ModelSection(profile=profile, overrides=overrides)


def _build(cls: type, raw: Any, where: str, skip: tuple[str, ...] = ()) -> Any:
    """Construct dataclass ``cls`` from a mapping, checking keys and coercing value types."""
    if dataclasses.is_dataclass(raw) and isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)} (known in {where or 'config'}: {', '.join(fields)})"
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name in raw:
            kwargs[name] = _coerce(raw[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: missing (required)")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or 'config'}: {err}") from None


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert one value to type ``tp`` (bool/int/float/str, Optional, unions, tuples, lists, dicts, dataclasses)."""
    if tp is Any:
        return value
    if _is_union(tp):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{key}: must not be null")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} matches none of {tp}")
    if value is None:
        raise ConfigError(f"{key}: must not be null")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    origin = typing.get_origin(tp)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "5e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, list):  # e.g. devices: [0, 1]
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{key}: unsupported value {value!r} for type {tp}")


