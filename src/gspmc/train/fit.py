"""One training run end to end: fit (resumable), pick the best epoch on validation, test once.

Run folder (``--out``)::

    config.yaml          the resolved config (a resume with a different config is refused)
    last.ckpt            written every epoch; ``gspmc fit`` resumes from it automatically
    best.ckpt            highest validation top-1 (ties: lower validation loss, then the earlier epoch)
    logs/metrics.csv     per-step / per-epoch metrics (Lightning CSVLogger)
    scores_val.npz       best checkpoint's logits on the validation split
    scores_test.npz      best checkpoint's logits on the test split (evaluated once, at the end)
    report_test.json     metrics + config + checkpoint; confusion_test.png; same for val
    result.json          the run's summary; written last, so its presence means "complete"
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gspmc.errors import ConfigError, DataError
from gspmc.faults import armed
from gspmc.inference.checkpoint import load_recognizer
from gspmc.inference.classes import align_classes
from gspmc.io import read_json, remove_stale_temps, write_json, write_text
from gspmc.train.config import Config, config_from_dict, config_to_dict, dump_config
from gspmc.train.evaluate import ScoreFile, evaluate_scores, save_scores

RESULT_FILE = "result.json"
# config keys that may change between a run and its resume: run-time settings, and optim.epochs
# (the schedule depends on warm-up and milestones only, so a longer run continues the same curve)
_RESUMABLE_CHANGES = ("optim.epochs", "trainer.num_workers", "trainer.threads", "trainer.progress_bar", "trainer.eval_batch_size",
                      "trainer.log_every_n_steps", "trainer.devices", "trainer.accelerator", "trainer.strategy", "trainer.num_nodes", "name")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two plain configs (ignoring run-time-only keys)."""
    fa, fb = _flat(a), _flat(b)
    keys = sorted(set(fa) | set(fb))
    return [k for k in keys if fa.get(k) != fb.get(k) and not k.startswith(_RESUMABLE_CHANGES)]


def _check_resume_config(out: Path, cfg: Config) -> None:
    path = out / "config.yaml"
    if not path.is_file():
        return
    import yaml

    try:
        old = config_to_dict(config_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {}))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    diff = config_differences(old, config_to_dict(cfg))
    if diff:
        raise ConfigError(
            f"{out}: this run folder was started with a different config (differs in {', '.join(diff)}); "
            "use a new --out folder, or delete the old one"
        )


def predict_split(recognizer: Any, dataset: Any, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, K) and labels (N,) of a checkpoint on a dataset (no augmentation)."""
    from torch.utils.data import DataLoader

    xs, ys = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        xs.append(recognizer.logits(x, batch_size))
        ys.append(np.asarray(y))
    k = len(recognizer.classes)
    if not xs:
        return np.zeros((0, k), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def evaluate_checkpoint(ckpt: Path, dm: Any, out: Path, splits: tuple[str, ...] = ("val", "test"),
                        config: dict[str, Any] | None = None, shared: bool = False) -> dict[str, Any]:
    """Score a checkpoint on the data module's splits; write scores_*.npz, report_*.json, confusion_*.png.

    The checkpoint's classes are matched to the data's by name (:func:`gspmc.inference.classes.align_classes`):
    another order is remapped, another set refused unless ``shared`` (then only the shared classes are
    scored, and the reports say so).
    """
    rec = load_recognizer(ckpt)
    alignment = align_classes(rec.classes, dm.classes, shared=shared, where=str(ckpt))
    ids = np.asarray(dm.clips.ids())
    reports = {}
    for split in splits:
        idx = np.asarray(getattr(dm.split, split))
        ds = getattr(dm, f"{split}_set")
        scores, labels = predict_split(rec, ds, dm.cfg.trainer.eval_batch_size)  # labels: data indices
        scores, labels, kept = alignment.apply(scores, labels)
        sf = ScoreFile(scores=scores, labels=labels, ids=ids[idx][kept], classes=list(alignment.classes))
        save_scores(out / f"scores_{split}.npz", sf)
        reports[split] = evaluate_scores(
            sf, out, split, config=config or rec.config, checkpoints=[str(ckpt)],
            extra={"fold": dm.cfg.data.fold, "protocol": dm.cfg.data.protocol, "epoch": rec.epoch,
                   "signer_independent": dm.cfg.data.protocol.endswith("xsigner"), **alignment.report()},
        )
    return reports


def fit(cfg: Config, out: str | os.PathLike[str], resume: str | os.PathLike[str] | None = None,
        clips: Any | None = None) -> dict[str, Any]:
    """Train (resuming from ``resume`` or ``out/last.ckpt``), then evaluate the best checkpoint once.

    Returns the run summary also written to ``out/result.json``.
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from gspmc.train.callbacks import BestOnValidation
    from gspmc.train.crashsafe import AtomicCheckpointIO, KillAfterStep
    from gspmc.train.datamodule import SkeletonDataModule
    from gspmc.train.module import RecognitionModule

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    if _launching_rank():  # half-written temporaries of a killed run (the files they replace are intact)
        remove_stale_temps(out)
    if resume is None and (out / "last.ckpt").is_file():
        resume = out / "last.ckpt"
    if resume is not None:
        resume = Path(resume)
        if not resume.is_file():
            raise DataError(resume, "checkpoint to resume from not found")

    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    dm = SkeletonDataModule(cfg, clips)
    dm.setup("fit")
    cfg = dm.cfg  # with what comes from the data (input.window: auto)
    if resume is not None:
        _check_resume_config(out, cfg)
    config = config_to_dict(cfg)
    write_text(out / "config.yaml", dump_config(cfg))
    (out / RESULT_FILE).unlink(missing_ok=True)  # the run is incomplete until the end
    module = RecognitionModule(config, dm.classes)

    # best.ckpt: highest validation top-1, ties broken by the lower validation loss (gspmc.train.callbacks);
    # last.ckpt: every epoch (its own callback: Lightning 2.6 writes save_last only with a new best)
    best_cb = BestOnValidation(out)
    last_cb = ModelCheckpoint(dirpath=out, filename="last", monitor=None, save_top_k=1,
                              enable_version_counter=False)
    precision = resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    trainer = L.Trainer(
        max_epochs=cfg.optim.epochs,
        accelerator=cfg.trainer.accelerator,
        devices=_devices(cfg.trainer.devices),
        num_nodes=cfg.trainer.num_nodes,
        strategy=cfg.trainer.strategy,
        precision=precision,
        callbacks=[best_cb, last_cb, *([KillAfterStep()] if armed("fit:step") else [])],
        plugins=[AtomicCheckpointIO()],
        logger=CSVLogger(out, name="logs", version=""),
        default_root_dir=out,
        enable_progress_bar=cfg.trainer.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        num_sanity_val_steps=0,
        limit_train_batches=cfg.trainer.limit_train_batches,
        deterministic=False,
    )
    trainer.fit(module, datamodule=dm, ckpt_path=str(resume) if resume else None)
    if not trainer.is_global_zero:
        return {}
    best = Path(best_cb.best_model_path) if best_cb.best_model_path else out / "best.ckpt"
    if not best.is_file():
        best = out / "last.ckpt"
    splits = ("val", "test") if cfg.trainer.test else ("val",)  # trainer.test false: the test split is never scored
    reports = evaluate_checkpoint(best, dm, out, splits=splits, config=config)
    test = reports.get("test")
    result = {
        "name": cfg.name,
        "dataset": cfg.data.dataset,
        "protocol": cfg.data.protocol,
        "fold": cfg.data.fold,
        "stream": cfg.input.stream,
        "seed": cfg.trainer.seed,
        "profile": cfg.model.profile,
        "epochs": cfg.optim.epochs,
        "precision": precision,
        "best_epoch": reports["val"]["epoch"],
        "best_checkpoint": str(best),
        "split_sizes": dm.split_info(),
        "val": {**reports["val"]["metrics"], "loss": best_cb.best_loss if best_cb.best_epoch >= 0 else None},
        "test": test["metrics"] if test else None,
        "test_report": test["report_json"] if test else None,
        "confusion_png": test["confusion_png"] if test else None,
        "wall_time_s": time.time() - start,
        "resumed_from": str(resume) if resume else None,
        "complete": True,
    }
    write_json(out / RESULT_FILE, result)
    return result


def cpu_has_native_bf16(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 in its flags; Linux only).

    Without those instructions bf16 is emulated on the CPU and slower than float32.
    """
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_precision(precision: str, accelerator: str) -> str:
    """The Lightning precision for ``trainer.precision``; ``"auto"`` picks by hardware.

    ``auto``: bf16 mixed precision where the device computes bf16 natively (a CUDA GPU that supports it;
    a CPU with AVX512-BF16 / AMX, where it trained the cpu-small model 1.5-2.4x faster than float32,
    see docs/training.md), otherwise full float32. Weights stay float32 either way and evaluation runs in
    float32. Any other value is passed to Lightning unchanged.
    """
    if precision != "auto":
        return precision
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if on_gpu:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_native_bf16() else "32-true"


def read_result(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The summary of a complete run folder, or None when the run is missing or incomplete."""
    path = Path(out) / RESULT_FILE
    if not path.is_file():
        return None
    try:
        result = read_json(path)
    except (OSError, ValueError):
        return None
    return result if result.get("complete") else None


def _devices(value: str) -> Any:
    """'auto' | '2' | '[0, 1]' -> what lightning.Trainer(devices=...) accepts."""
    import yaml

    parsed = yaml.safe_load(value) if isinstance(value, str) else value
    return parsed if isinstance(parsed, int | list) else value



def _launching_rank() -> bool:
    """True in the process a user started (not a DDP worker that Lightning or torchrun launched, nor
    another node): only it may clean the run folder, before any rank writes there."""
    return all(int(os.environ.get(k, "0") or 0) == 0 for k in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK"))
