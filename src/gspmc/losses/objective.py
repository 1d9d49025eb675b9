"""The GSP-MC training objective: global, synonym and part contrastive terms (Eq. 11) and
L_total = L_cls + alpha * L_multi (Eq. 12).

:class:`GSPMCObjective` owns what exists only for training: the projection heads (global
skeleton feature -> text space; one head per model part) and the frozen text banks (buffers,
never trained, never saved in checkpoints). The skeleton model is untouched, so the exported
recogniser costs exactly a plain CTR-GCN.

Per-step text sampling (the paper: M = B texts for global / synonym, M = sum_i m_i for parts):

- ``global`` and ``synonym``: for every batch sample whose sign has texts of that kind, one text
  of its sign drawn uniformly (so M <= B; samples of the same sign may draw the same text, which
  is then simply a positive twice). With Eq. 9, every drawn text of the same sign is a positive.
- parts: for every model part, all texts of that part (after the part mapping) of the distinct
  signs present in the batch.
- the draws come from a ``torch.Generator`` passed to ``forward`` (default: the objective's own,
  seeded at construction), so a step is deterministic given the generator's state.

Texts that several signs share (the same string, e.g. "The body stays upright." written for most
signs; or, with ``merge_cosine``, near-identical ones) are contradictory targets if each copy is a
positive of its own sign only. ``shared_texts`` decides (:meth:`gspmc.text.bank.KindBank.table`):
``merge`` (default) keeps one row that is a positive of every sign that has it (Eq. 9's
multi-positive form with a set of labels per text), ``drop`` removes such texts, ``keep`` is the
literal one-row-per-(sign, text) reading.

Part mapping: description parts (left_hand, right_hand, body, face, mouth) feed model-layout parts
(``Layout.parts`` order). By default a part feeds the model part of the same name; ``face`` falls
back to ``head`` then ``body``, ``mouth`` to ``face``, ``head``, ``body`` (so on ``gspmc-55``,
whose parts are body / left_hand / right_hand, face and mouth texts join the body texts). A
mapping to ``null`` drops a description part. A sample whose sign has no text for a model part
contributes no term for it (Eq. 9 has no positive there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gspmc.errors import ConfigError
from gspmc.losses.contrastive import MultiPositiveContrastive
from gspmc.text.bank import SHARED_MODES, KindBank, TextBank, TextTable, merge_banks

TERMS: tuple[str, ...] = ("global", "synonym", "parts")
_FALLBACK: dict[str, tuple[str, ...]] = {
    "face": ("face", "head", "body"),
    "mouth": ("mouth", "face", "head", "body"),
}


def total_loss(ce: Tensor, multi: Tensor, alpha: float = 0.5) -> Tensor:
    """Eq. 12: L_total = L_cls + alpha * L_multi (alpha = 0.5 in the paper)."""
    return ce + alpha * multi


def default_part_map(desc_parts: Sequence[str], model_parts: Sequence[str]) -> dict[str, str | None]:
    """Description part -> model part: same name, else the fallbacks in the module docstring, else None."""
    out: dict[str, str | None] = {}
    for d in desc_parts:
        out[d] = next((m for m in _FALLBACK.get(d, (d,)) if m in model_parts), None)
    return out


def resolve_part_map(
    desc_parts: Sequence[str], model_parts: Sequence[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, str | None]:
    """The default map updated by ``overrides`` ({description part: model part | None}), checked."""
    part_map = default_part_map(desc_parts, model_parts)
    for d, m in (overrides or {}).items():
        if d not in desc_parts:
            raise ConfigError(f"mc.part_map: {d!r} is not a description part (store parts: {list(desc_parts)})")
        if m in (None, "", "none", "null"):
            part_map[d] = None
        elif m in model_parts:
            part_map[d] = str(m)
        else:
            raise ConfigError(f"mc.part_map.{d}: {m!r} is not a part of the model layout {list(model_parts)}")
    return part_map


@dataclass(frozen=True)
class MCOptions:
    """The ``mc`` options (``options`` in the training config) that :meth:`GSPMCObjective.from_config` reads."""

    store: str  # description store (JSONL); relative paths resolve against base_dir
    encoder: str = "minilm"  # text encoder spec (gspmc.text.get_text_encoder)
    cache: str | None = None  # embedding cache file; None: next to the store
    embed_missing: bool = True  # embed texts missing from the cache (once, at construction)
    tau: float = 0.1  # temperature of Eq. 7-8
    learnable_tau: bool = False
    terms: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(TERMS, True))
    part_map: dict[str, str | None] = field(default_factory=dict)  # overrides of default_part_map
    shared_texts: str = "merge"  # texts several signs share: merge (positive of all) | drop | keep
    merge_cosine: float | None = None  # also treat texts at least this cosine-similar as one text
    seed: int = 0  # offset of the text-sampling generator's seed (the run's trainer.seed is the seed)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MCOptions:
        """Check types and keys; unknown keys, missing store or bad values raise ConfigError."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"mc: expected a mapping, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            hint = " (alpha is set once, as mc.alpha, next to these options)" if "alpha" in unknown else ""
            raise ConfigError(f"mc options: unknown keys {sorted(unknown)}; known: {sorted(known)}{hint}")
        if not isinstance(raw.get("store"), str | Path) or not str(raw.get("store")):
            raise ConfigError("mc.store: the description store (a .jsonl path) is required")
        terms = raw.get("terms") or {}
        if not isinstance(terms, Mapping) or set(terms) - set(TERMS) or not all(isinstance(v, bool) for v in terms.values()):
            raise ConfigError(f"mc.terms: expected a mapping of {list(TERMS)} to true/false, got {terms!r}")
        part_map = raw.get("part_map") or {}
        if not isinstance(part_map, Mapping):
            raise ConfigError(f"mc.part_map: expected a mapping description part -> model part, got {part_map!r}")
        opts = cls(**{**raw, "store": str(raw["store"]), "terms": {**dict.fromkeys(TERMS, True), **terms},
                      "part_map": dict(part_map)})
        if not (isinstance(opts.tau, int | float) and opts.tau > 0):
            raise ConfigError(f"mc.tau: must be a number > 0, got {opts.tau!r}")
        if opts.shared_texts not in SHARED_MODES:
            raise ConfigError(f"mc.shared_texts: expected one of {', '.join(SHARED_MODES)}, got {opts.shared_texts!r}")
        if opts.merge_cosine is not None and not (isinstance(opts.merge_cosine, int | float)
                                                  and 0 < opts.merge_cosine <= 1):
            raise ConfigError(f"mc.merge_cosine: a cosine in (0, 1] or null, got {opts.merge_cosine!r}")
        return opts


def text_seed(run_seed: int, offset: int = 0) -> int:
    """The text sampler's seed: the run's seed, moved by ``mc.options.seed`` (0: the run's seed itself)."""
    return int(run_seed) + 1_000_003 * int(offset)


class GSPMCObjective(nn.Module):
    """L_multi of Eq. 11 over the enabled terms, with its projection heads and frozen text banks.

    Args:
        bank: text embeddings aligned to the dataset's classes (:func:`gspmc.text.load_text_bank`).
        feature_dim: D, width of the skeleton encoder's global and part features.
        model_parts: the model layout's part names in ``Layout.parts`` order (P of them).
        terms: {"global", "synonym", "parts"} -> enabled (default all: the paper's full model).
        part_map: overrides of :func:`default_part_map`.
        shared_texts, merge_cosine: texts several signs share (module docstring).
        tau, learnable_tau: temperature of Eq. 7-8 (:class:`MultiPositiveContrastive`).
        alpha: weight of L_multi in Eq. 12 (:meth:`total`).
        seed: seed of the default text-sampling generator.
    """

    def __init__(
        self,
        bank: TextBank,
        feature_dim: int,
        model_parts: Sequence[str],
        *,
        terms: Mapping[str, bool] | None = None,
        part_map: Mapping[str, Any] | None = None,
        shared_texts: str = "merge",
        merge_cosine: float | None = None,
        tau: float = 0.1,
        learnable_tau: bool = False,
        alpha: float = 0.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        terms = {**dict.fromkeys(TERMS, True), **(terms or {})}
        if set(terms) - set(TERMS):
            raise ConfigError(f"mc.terms: unknown terms {sorted(set(terms) - set(TERMS))}; known {list(TERMS)}")
        self.terms = {k: bool(v) for k, v in terms.items()}
        self.alpha = float(alpha)
        self.model_parts = tuple(model_parts)
        self.num_classes = len(bank.classes)
        self.bank = bank
        self.part_map = resolve_part_map(bank.parts, self.model_parts, part_map)
        self.contrastive = MultiPositiveContrastive(tau=tau, learnable_tau=learnable_tau)
        self._generator = torch.Generator().manual_seed(int(seed))
        dim = bank.dim

        self.shared_texts, self.merge_cosine = shared_texts, merge_cosine
        self.tables: dict[str, TextTable] = {}  # kind or "part_<name>" -> its texts (for reports)

        self.global_kinds = tuple(k for k in ("global", "synonym") if self.terms[k])
        for kind in self.global_kinds:
            table = self._table(bank.kinds[kind], kind)
            # rows of each class, grouped by class (a shared text appears under each of its classes)
            cls, rows = np.nonzero(table.member.T)  # (R,), (R,) sorted by class
            counts = np.bincount(cls, minlength=self.num_classes)  # (K,)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])  # (K,)
            self._buffer(f"{kind}_emb", table.embeddings)
            self._buffer(f"{kind}_member", table.member)
            self._buffer(f"{kind}_rows", rows.astype(np.int64))
            self._buffer(f"{kind}_count", counts)
            self._buffer(f"{kind}_start", starts)
        self.global_head = nn.Linear(feature_dim, dim) if self.global_kinds else None

        self.part_heads = nn.ModuleDict()
        self.part_terms: tuple[str, ...] = ()
        if self.terms["parts"]:
            active = []
            for part in self.model_parts:
                sources = [bank.kinds[d] for d, target in self.part_map.items() if target == part]
                table = self._table(merge_banks(sources) if sources else None, f"part_{part}")
                if len(table) == 0:
                    continue  # no description part maps here (or no texts): no head, no term
                self._buffer(f"part_{part}_emb", table.embeddings)
                self._buffer(f"part_{part}_member", table.member)
                self.part_heads[part] = nn.Linear(feature_dim, dim)
                active.append(part)
            self.part_terms = tuple(active)

    def _buffer(self, name: str, array: np.ndarray) -> None:
        self.register_buffer(name, torch.from_numpy(np.ascontiguousarray(array)), persistent=False)

    def _table(self, kb: KindBank | None, name: str) -> TextTable:
        """The distinct texts of a kind with their class masks (``shared_texts`` applied)."""
        if kb is None or len(kb) == 0:
            table = TextTable(np.zeros((0, self.bank.dim), np.float32), np.zeros((0, self.num_classes), bool), ())
        else:
            table = kb.table(self.num_classes, self.shared_texts, self.merge_cosine)
        self.tables[name] = table
        return table

    @property
    def active_terms(self) -> list[str]:
        """Names of the terms this objective can produce (``global``, ``synonym``, ``part_<name>``)."""
        return list(self.global_kinds) + [f"part_{p}" for p in self.part_terms]

    def generator_state(self) -> Tensor:
        """The text sampler's state (a uint8 tensor): saved in checkpoints, so a resumed run draws on."""
        return self._generator.get_state()

    def set_generator_state(self, state: Tensor) -> None:
        """Restore :meth:`generator_state` (on resume)."""
        self._generator.set_state(state)

    def sample_texts(self, kind: str, labels: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """One text of kind ``global`` / ``synonym`` per sample whose sign has one, drawn uniformly.

        Returns (embeddings (M, d), member (M, K) bool: the classes each drawn text is a positive of),
        M = number of samples with a text, in batch order.
        """
        gen = generator or self._generator
        count_all: Tensor = getattr(self, f"{kind}_count")
        start_all: Tensor = getattr(self, f"{kind}_start")
        known = labels >= 0
        safe = labels.clamp_min(0)
        count = torch.where(known, count_all[safe], torch.zeros_like(safe))  # (N,)
        u = torch.rand(labels.shape[0], generator=gen, device=gen.device).to(labels.device)  # (N,)
        pick = torch.minimum((u * count).long(), (count - 1).clamp_min(0))  # (N,) in [0, count)
        has = count > 0
        rows = getattr(self, f"{kind}_rows")[(start_all[safe] + pick)[has]]  # (M,)
        return getattr(self, f"{kind}_emb")[rows], getattr(self, f"{kind}_member")[rows]

    def forward(
        self,
        features: tuple[Tensor, Tensor | None],
        labels: Tensor,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Eq. 11 for one batch.

        Args:
            features: the encoder's ``Features(global_, parts)`` (or any pair): S_g (N, D) and S_p
                (N, P, D) in ``model_parts`` order (``parts`` may be None when the parts term is off).
            labels: (N,) class indices into the bank's classes.
            generator: text-sampling generator (default: the objective's own).

        Returns:
            {"global": L_con, "synonym": L_con, "part_<name>": L_con, ... for the terms active in
            this batch, "multi": their mean (Eq. 11; 0 with a gradient path when none is active),
            "n_terms": how many were averaged}.
        """
        global_feat, part_feats = features
        return self.loss_terms(global_feat, part_feats, labels, generator)

    def loss_terms(
        self,
        global_feat: Tensor,
        part_feats: Tensor | None,
        labels: Tensor,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """:meth:`forward` on separate tensors: ``global_feat`` (N, D), ``part_feats`` (N, P, D), ``labels`` (N,)."""
        if global_feat.ndim != 2 or labels.shape != (global_feat.shape[0],):
            raise ValueError(f"expected global_feat (N, D) and labels (N,), got {tuple(global_feat.shape)}, "
                             f"{tuple(labels.shape)}")
        if labels.numel() and int(labels.max()) >= self.num_classes:
            raise ValueError(f"label {int(labels.max())} out of range for {self.num_classes} classes")
        out: dict[str, Tensor] = {}
        if self.global_head is not None:
            z = self.global_head(global_feat)  # (N, d)
            for kind in self.global_kinds:
                text, member = self.sample_texts(kind, labels, generator)  # (M, d), (M, K)
                if member.shape[0]:  # each drawn text's own sample is a positive: the term is active
                    out[kind] = self.contrastive(z, text, labels, member)["loss"]
        if self.part_terms:
            if part_feats is None or part_feats.ndim != 3 or part_feats.shape[1] != len(self.model_parts):
                raise ValueError(f"expected part_feats (N, {len(self.model_parts)}, D) for parts {self.model_parts}, "
                                 f"got {None if part_feats is None else tuple(part_feats.shape)}")
            present = labels[labels >= 0].unique()  # (C,)
            for part in self.part_terms:
                member_all: Tensor = getattr(self, f"part_{part}_member")  # (U, K)
                keep = member_all[:, present].any(dim=1)  # (U,) texts of the batch's signs
                if not bool(keep.any()):
                    continue  # no sign of this batch has a text for this part
                j = self.model_parts.index(part)
                z = self.part_heads[part](part_feats[:, j])  # (N, d)
                text = getattr(self, f"part_{part}_emb")[keep]  # (M, d)
                out[f"part_{part}"] = self.contrastive(z, text, labels, member_all[keep])["loss"]
        if out:
            multi = torch.stack(list(out.values())).mean()
        else:  # nothing to contrast in this batch: a zero that keeps the graph connected
            multi = global_feat.sum() * 0.0
        out["multi"] = multi
        out["n_terms"] = torch.tensor(len(out) - 1, device=global_feat.device)
        return out

    def total(self, ce: Tensor, out: Mapping[str, Tensor]) -> Tensor:
        """Eq. 12 with this objective's alpha: ``ce + alpha * out["multi"]``."""
        return total_loss(ce, out["multi"], self.alpha)

    def describe(self) -> str:
        """Terms, part mapping and the bank's coverage, for logs."""
        lines = [f"GSP-MC objective: terms {self.active_terms}, tau {self.contrastive.tau:g}"
                 f"{' (learnable)' if self.contrastive.learnable_tau else ''}, alpha {self.alpha:g}, "
                 f"shared texts {self.shared_texts}"
                 + (f" (cosine >= {self.merge_cosine:g} counts as shared)" if self.merge_cosine is not None else ""),
                 "  part map: " + ", ".join(f"{d}->{m}" for d, m in self.part_map.items())]
        if self.terms["parts"]:
            idle = [p for p in self.model_parts if p not in self.part_terms]
            if idle:
                lines.append(f"  model parts without texts (no term): {idle}")
        return "\n".join(lines + [self.bank.report()])

    @classmethod
    def from_config(
        cls,
        options: Mapping[str, Any],
        *,
        classes: Sequence[str],
        layout: Any,
        feature_dim: int,
        alpha: float = 0.5,
        base_dir: str | Path | None = None,
        progress: bool = False,
        seed: int = 0,
    ) -> GSPMCObjective:
        """Build the objective from the ``mc`` options (the fields of :class:`MCOptions`).

        Args:
            options: mapping with the fields of :class:`MCOptions` (``store`` required).
            classes: the dataset's class names, in label order (texts are aligned by name).
            layout: the model layout (a ``gspmc.pose.layouts.Layout``; its ``parts`` order is the
                order of ``Features.parts``), or a sequence of part names.
            feature_dim: D of ``Features.global_`` / ``Features.parts``.
            alpha: Eq. 12 weight used by :meth:`total` (the training config's ``mc.alpha``).
            base_dir: folder that relative ``store`` / ``cache`` paths resolve against (default: cwd).
            progress: show a progress bar if texts must be embedded.
            seed: the run's seed (``trainer.seed``); the text sampler is seeded from it and the
                options' ``seed`` offset, so runs of different seeds draw different texts.
        """
        from gspmc.text.bank import load_text_bank

        opts = MCOptions.from_dict(options)
        model_parts = list(layout.parts) if hasattr(layout, "parts") else list(layout)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        store = base / Path(opts.store).expanduser()
        cache = None if opts.cache is None else base / Path(opts.cache).expanduser()
        bank = load_text_bank(store, classes, opts.encoder, cache=cache, embed_missing=opts.embed_missing,
                              progress=progress)
        return cls(bank, feature_dim, model_parts, terms=opts.terms, part_map=opts.part_map,
                   shared_texts=opts.shared_texts, merge_cosine=opts.merge_cosine, tau=opts.tau,
                   learnable_tau=opts.learnable_tau, alpha=alpha, seed=text_seed(seed, opts.seed))
