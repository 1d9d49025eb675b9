"""Zero-shot, generalised zero-shot and few-shot evaluation of one open-vocabulary run.

A run is a GSP-MC training on the seen classes of a :class:`~gspmc.openvocab.splits.ClassSplit`
(:mod:`gspmc.openvocab.protocol`). With ``f`` the held-out signer, U the test-unseen and V the
validation-unseen classes, S the seen ones:

=====================  ===========================================  ======================================
what                   TEST (reported)                              VALIDATION (selects the setting)
=====================  ===========================================  ======================================
zero-shot (U-way)      f's clips of U vs the text prototypes of U   training-side clips of V, V-way
                                                                    (part weight; ridge penalty)
generalised zero-shot  f's clips of S and U, classes S + U          the seen validation split + clips of V,
                                                                    classes S + V (calibration)
few-shot (U-way)       support: K training-side clips per U class;  support / queries: training-side clips
                       queries: f's clips of U                      of V (text weight, calibration)
few-shot, own signer   support: K of f's clips per U class;         (same settings as above)
                       queries: f's other clips of U
=====================  ===========================================  ======================================

Scores: cosine between a clip's unit embedding (the GSP-MC global head) and class prototypes
(:mod:`gspmc.inference.prototypes`). Generalised zero-shot is measured two ways: calibrated
stacking in the embedding space (every class by its text prototype, ``gamma`` subtracted from seen
classes; Chao et al. 2016), and the recogniser that ``gspmc enroll`` builds (the trained
classifier's log-probabilities for S, ``(cos - 1) / tau + bias`` for the new classes). Both report
per-class mean accuracy on seen and unseen classes and their harmonic mean H.

The baseline without any text: ridge regression from skeleton features to knowledge-base
phonological attribute vectors (:mod:`gspmc.openvocab.attributes`) on the seen classes' training
clips, then nearest unseen class by cosine; features = the run's S_g, or the raw model inputs.

A CE-only run (trained without GSP-MC: no text space) is evaluated by :func:`evaluate_ce_run`: the
text-free parts only (few-shot prototypes on S_g, the attribute baseline, the classifier on the seen
classes), with the same support draws as a GSP-MC run of the same split, so the two pair clip for clip.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.inference.classes import align_classes
from gspmc.inference.metrics import topk_accuracy
from gspmc.inference.prototypes import class_prototypes, combine, cosine, open_set_scores
from gspmc.inference.scores import log_softmax
from gspmc.io import read_json, write_json
from gspmc.paths import package_path

FEATURE_FILE = "openvocab_features.npz"
PART_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
GAMMAS: np.ndarray = np.round(np.arange(-0.5, 1.0001, 0.025), 4)  # calibrated stacking (cosine units)
BIASES: np.ndarray = np.round(np.arange(-4.0, 12.0001, 0.25), 4)  # enrolled-score bias (log-prob units)
TEXT_WEIGHTS: np.ndarray = np.round(np.arange(0.0, 1.0001, 0.1), 4)
RIDGE_PENALTIES: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)


# --- metrics ------------------------------------------------------------------------------------
def rank_order(scores: np.ndarray) -> np.ndarray:
    """(N, C) -> (N, C) class positions by decreasing score; equal scores keep class order."""
    return np.argsort(-np.asarray(scores, np.float64), axis=1, kind="stable")


def per_class_accuracy(pred: np.ndarray, targets: np.ndarray, classes: Sequence[int]) -> float:
    """Mean over ``classes`` (that occur in ``targets``) of each class's top-1 accuracy."""
    accs = [float((pred[targets == c] == c).mean()) for c in classes if np.any(targets == c)]
    return float(np.mean(accs)) if accs else float("nan")


def harmonic(a: float, b: float) -> float:
    """Harmonic mean of two accuracies (0 when either is 0)."""
    return 0.0 if a <= 0 or b <= 0 else float(2 * a * b / (a + b))


def best_index(values: Sequence[float]) -> int:
    """Index of the largest value; the first one on ties (so grids are ordered by preference)."""
    v = np.asarray(values, np.float64)
    return int(np.flatnonzero(v == np.nanmax(v))[0])


def positions(labels: np.ndarray, space: np.ndarray) -> np.ndarray:
    """Dataset labels (N,) -> their column in the label ``space`` (C,) (-1 when absent)."""
    where = {int(c): i for i, c in enumerate(space)}
    return np.asarray([where.get(int(y), -1) for y in labels], np.int64)


# --- scores -------------------------------------------------------------------------------------
def text_scores(embedding: np.ndarray, protos: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Cosine (N, C) of embeddings to text prototypes; -inf for classes without a text."""
    s = cosine(embedding, protos).astype(np.float64)
    s[:, ~np.asarray(has, bool)] = -np.inf
    return s


def part_scores(parts: dict[str, np.ndarray], part_protos: dict[str, tuple[np.ndarray, np.ndarray]],
                space: np.ndarray) -> np.ndarray:
    """(N, C) mean over model parts of cos(part embedding, part text prototype), over the parts
    where the class has a text; nan for a class with no part text."""
    total = None
    count = np.zeros(len(space))
    for part, emb in parts.items():
        if part not in part_protos:
            continue
        protos, has = part_protos[part]
        s = cosine(emb, protos[space]).astype(np.float64)  # (N, C)
        h = has[space].astype(bool)
        s[:, ~h] = 0.0
        total = s if total is None else total + s
        count += h
    if total is None:
        n = next(iter(parts.values())).shape[0] if parts else 0
        return np.full((n, len(space)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def fused_scores(global_scores: np.ndarray, parts: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - w) global + w parts``; where a class has no part score, the global score alone."""
    if weight == 0:
        return global_scores
    return np.where(np.isnan(parts), global_scores, (1 - weight) * global_scores + weight * parts)


def calibrated_stacking(scores: np.ndarray, seen: np.ndarray, gamma: float) -> np.ndarray:
    """Subtract ``gamma`` from the scores of seen classes (columns where ``seen``)."""
    return scores - gamma * np.asarray(seen, np.float64)[None, :]


def gzsl_metrics(scores: np.ndarray, targets: np.ndarray, seen_cols: Sequence[int],
                 unseen_cols: Sequence[int]) -> dict[str, float]:
    """Per-class mean top-1 on seen and on unseen classes' clips, their harmonic mean H."""
    pred = rank_order(scores)[:, 0]
    s = per_class_accuracy(pred, targets, seen_cols)
    u = per_class_accuracy(pred, targets, unseen_cols)
    return {"seen": s, "unseen": u, "h": harmonic(s, u)}


def pick_on_validation(grid: Sequence[float], score: Callable[[float], float]) -> tuple[float, list[float]]:
    """The grid value with the best validation score (first on ties) and every score."""
    values = [score(float(g)) for g in grid]
    return float(grid[best_index(values)]), values


# --- the attribute baseline ---------------------------------------------------------------------
def ridge_fit(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression on standardised features: returns (x mean, x std, W (F, A), y mean)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xs = (x - mu) / sd  # (n, F)
    ym = y.mean(0)
    n, f = xs.shape
    if f <= n:
        w = np.linalg.solve(xs.T @ xs + penalty * np.eye(f), xs.T @ (y - ym))  # (F, A)
    else:  # dual form: cheaper when features outnumber clips
        w = xs.T @ np.linalg.solve(xs @ xs.T + penalty * np.eye(n), y - ym)
    return mu, sd, w, ym


def ridge_predict(model: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    mu, sd, w, ym = model
    return ((np.asarray(x, np.float64) - mu) / sd) @ w + ym  # (N, A)


# --- support sets -------------------------------------------------------------------------------
def draw_support(rng: np.random.Generator, pool: np.ndarray, labels: np.ndarray, classes: np.ndarray,
                 shots: int) -> np.ndarray:
    """``shots`` random clips (indices from ``pool``) of each class in ``classes`` (all its clips if fewer)."""
    picks = []
    for c in classes:
        members = pool[labels[pool] == c]
        picks.append(rng.choice(members, size=min(shots, len(members)), replace=False))
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, np.int64)


def _rng(*keys: Any) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


# --- the text-free parts (GSP-MC and CE-only runs alike) -------------------------------------------
def attribute_baseline(clips: Any, feats: Any, labels: np.ndarray, seen: np.ndarray, val_unseen: np.ndarray,
                       unseen: np.ndarray, seen_train: np.ndarray, z_val: np.ndarray, z_test: np.ndarray,
                       kb_store: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Ridge from S_g / raw inputs to knowledge-base attributes, nearest unseen class (penalty on V)."""
    from gspmc.openvocab.attributes import attribute_matrix, load_class_attributes
    from gspmc.paths import data_dir

    kb = Path(kb_store) if kb_store is not None else package_path("descriptions", "traduttore_asl33.jsonl")
    codes = load_class_attributes(clips.classes, kb, data_dir() / "kb/asl-lex/signdata-11-5-20.csv")
    with_codes = [c for c in seen if clips.classes[c] in codes]
    space_all = np.asarray(with_codes + list(val_unseen) + list(unseen))
    attrs, attr_names = attribute_matrix(codes, [clips.classes[c] for c in space_all])  # (C, A)
    a_of = {int(c): attrs[i] for i, c in enumerate(space_all)}
    train_b = seen_train[np.isin(labels[seen_train], with_codes)]
    tz, vz = positions(labels[z_test], unseen), positions(labels[z_val], val_unseen)
    out: dict[str, Any] = {"attributes": len(attr_names), "seen_classes_with_attributes": len(with_codes),
                           "train_clips": int(len(train_b))}
    for name, x in (("attributes_sg", feats.global_), ("attributes_raw", feats.inputs)):
        y = np.stack([a_of[int(c)] for c in labels[train_b]])  # (n, A)
        models = {lam: ridge_fit(x[train_b], y, lam) for lam in RIDGE_PENALTIES}

        def nn_scores(idx: np.ndarray, space: np.ndarray, lam: float, models: dict = models,
                      x: np.ndarray = x) -> np.ndarray:
            return cosine(ridge_predict(models[lam], x[idx]), np.stack([a_of[int(c)] for c in space]))

        lam, lam_vals = pick_on_validation(RIDGE_PENALTIES, lambda p: topk_accuracy(nn_scores(z_val, val_unseen, p), vz, 1))
        s = nn_scores(z_test, unseen, lam)
        out[name] = {"penalty": lam, "val_by_penalty": dict(zip(map(str, RIDGE_PENALTIES), lam_vals, strict=True)),
                     "top1": topk_accuracy(s, tz, 1), "top5": topk_accuracy(s, tz, 5)}
    return out


def support_draw(where: str, fold: str, seed: int, k: int, draw: int, pool: np.ndarray, labels: np.ndarray,
                 unseen: np.ndarray) -> np.ndarray:
    """The support clips of one few-shot draw: seeded by (where, fold, split seed, K, draw) only, so every
    run of a split (any store, or CE only) enrols the same clips."""
    return draw_support(_rng(where, fold, seed, k, draw), pool, labels, unseen, k)


def backbone_few_shot(global_: np.ndarray, labels: np.ndarray, fold: str, seed: int, unseen: np.ndarray,
                      u_support_pool: np.ndarray, z_test: np.ndarray, k: int, draws: int) -> dict[str, list[float]]:
    """Few-shot U-way top-1 with class prototypes on S_g (mean of the support clips' S_g, cosine), per draw:
    ``cross_signer/backbone/top1`` (support from the training side) and ``own_signer/backbone/top1``
    (support from the held-out signer, its other clips as queries)."""
    per: dict[str, list[float]] = {}
    for draw in range(draws):
        for where, pool in (("cross_signer", u_support_pool), ("own_signer", z_test)):
            sup = support_draw(where, fold, seed, k, draw, pool, labels, unseen)
            qry = z_test if where == "cross_signer" else np.setdiff1d(z_test, sup)
            sg = cosine(global_[qry], class_prototypes(global_[sup], labels[sup], unseen))  # (Q, U)
            per.setdefault(f"{where}/backbone/top1", []).append(topk_accuracy(sg, positions(labels[qry], unseen), 1))
    return per


# --- one run ------------------------------------------------------------------------------------
def _summary(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}


def run_partition(run: Path, clips: Any, split: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices into ``clips`` of the seen-class clips exactly as the run used them:
    val and test from the run's ``scores_val.npz`` / ``scores_test.npz`` (clip ids), train = the
    training side's other seen-class clips."""
    from gspmc.openvocab.splits import seen_indices

    index = {cid: i for i, cid in enumerate(clips.ids())}
    parts = []
    for name in ("val", "test"):
        with np.load(run / f"scores_{name}.npz", allow_pickle=False) as z:
            parts.append(np.asarray([index[str(c)] for c in z["ids"]], np.int64))
    val, test = parts
    signers = clips.signers()
    seen_all = seen_indices(clips, split)
    train = np.setdiff1d(seen_all[signers[seen_all] != split.fold], val)
    sizes = read_json(run / "result.json").get("split_sizes", {})
    expected = (sizes.get("train") or {}).get("clips")
    if expected is not None and expected != len(train):
        from gspmc.errors import DataError

        raise DataError(run, f"the run trained on {expected} clips, but {len(train)} seen-class training-side clips "
                        "remain after its validation split: the data changed since training")
    return train, np.sort(val), np.sort(test)


@dataclass(frozen=True)
class RunData:
    """What every evaluation of one run reads: its split, checkpoint, features and clip index sets
    (indices into the full dataset; labels are dataset labels)."""

    split: Any  # the ClassSplit
    config: dict[str, Any]  # the run's config.yaml
    ckpt: dict[str, Any]  # the checkpoint (state_dict, gspmc meta)
    feats: Any  # ClipFeatures over every clip of the dataset
    labels: np.ndarray  # (N,)
    seen: np.ndarray  # (S,) in the classifier's column order
    unseen: np.ndarray  # (U,)
    val_unseen: np.ndarray  # (V,)
    seen_train: np.ndarray
    seen_val: np.ndarray
    seen_test: np.ndarray
    z_test: np.ndarray  # the held-out signer's clips of U
    z_val: np.ndarray  # the training side's clips of V
    u_support_pool: np.ndarray  # the training side's clips of U
    logp: np.ndarray  # (N, S) classifier log-probabilities in ``seen`` order

    @property
    def text_space(self) -> bool:
        """False for a CE-only run (trained with ``mc.enabled: false``: no projection heads)."""
        return _trained_with_text(self.config)


def _trained_with_text(config: dict[str, Any]) -> bool:
    """Whether a run's config trained with GSP-MC on (``mc.enabled``)."""
    return bool((config.get("mc") or {}).get("enabled"))


def load_run(run: Path, clips: Any) -> RunData:
    """Read a finished run folder (features cached in ``openvocab_features.npz``; the text space is
    required exactly when the run was trained with GSP-MC)."""
    import yaml

    from gspmc.inference.checkpoint import read_checkpoint
    from gspmc.openvocab.protocol import read_split
    from gspmc.openvocab.space import ClipFeatures, clip_features
    from gspmc.openvocab.splits import class_indices, clip_indices

    split = read_split(run)
    cfg = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    ckpt_path = run / "best.ckpt"
    feat_path = run / FEATURE_FILE
    if feat_path.is_file():
        feats = ClipFeatures.load(feat_path)
    else:
        feats = clip_features(ckpt_path, clips, text_space=_trained_with_text(cfg))
        feats.save(feat_path)
    ckpt = read_checkpoint(ckpt_path)
    labels, fold = clips.labels(), split.fold
    seen = class_indices(clips, split.seen)
    seen_train, seen_val, seen_test = run_partition(run, clips, split)
    # the classifier's columns are its checkpoint's classes: matched to the split's seen classes by name
    model_classes = [str(c) for c in ckpt["gspmc"]["classes"]]
    align_classes(model_classes, [clips.classes[c] for c in seen], where=str(ckpt_path))  # another set: refused
    order = [model_classes.index(clips.classes[c]) for c in seen]  # (S,) the column of each seen class
    return RunData(split=split, config=cfg, ckpt=ckpt, feats=feats, labels=labels, seen=seen,
                   unseen=class_indices(clips, split.unseen), val_unseen=class_indices(clips, split.val_unseen),
                   seen_train=seen_train, seen_val=seen_val, seen_test=seen_test,
                   z_test=clip_indices(clips, split.unseen, fold, held_out=True),
                   z_val=clip_indices(clips, split.val_unseen, fold, held_out=False),
                   u_support_pool=clip_indices(clips, split.unseen, fold, held_out=False),
                   logp=log_softmax(feats.logits[:, order]))


def _sizes(d: RunData) -> dict[str, int]:
    return {"zsl_test": int(len(d.z_test)), "zsl_val": int(len(d.z_val)), "seen_test": int(len(d.seen_test)),
            "seen_val": int(len(d.seen_val)), "seen_train": int(len(d.seen_train))}


def evaluate_ce_run(run: str | os.PathLike[str], clips: Any, shots: Sequence[int] = (1, 3, 5), draws: int = 5,
                    force: bool = False, kb_store: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Evaluate a finished CE-only run (no text space): few-shot prototypes on S_g (the support draws of
    every run of the split), the attribute baseline, the classifier on the seen classes' test clips.
    Writes and returns ``openvocab_eval.json`` (``"objective": "ce"``); arguments as :func:`evaluate_run`."""
    from gspmc.openvocab.protocol import EVAL_FILE

    run = Path(run)
    if (run / EVAL_FILE).is_file() and not force:
        return read_json(run / EVAL_FILE)
    return _evaluate_text_free(run, load_run(run, clips), clips, shots, draws, kb_store)


def _evaluate_text_free(run: Path, d: RunData, clips: Any, shots: Sequence[int], draws: int,
                        kb_store: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The CE-only evaluation of a loaded run; writes ``openvocab_eval.json``."""
    from gspmc.openvocab.protocol import EVAL_FILE

    n_u = len(d.unseen)
    result: dict[str, Any] = {
        "objective": "ce", "split": d.split.to_json(), "sizes": _sizes(d),
        "chance": {"top1": 1 / n_u, "top5": min(5, n_u) / n_u},
        "baseline": attribute_baseline(clips, d.feats, d.labels, d.seen, d.val_unseen, d.unseen, d.seen_train,
                                       d.z_val, d.z_test, kb_store),
        "classifier_seen_top1": float(np.mean(rank_order(d.logp[d.seen_test])[:, 0]
                                              == positions(d.labels[d.seen_test], d.seen))),
        "few_shot": {str(k): {key: _summary(v) for key, v in backbone_few_shot(
            d.feats.global_, d.labels, d.split.fold, d.split.seed, d.unseen, d.u_support_pool, d.z_test, k,
            draws).items()} for k in shots},
        "draws": draws}
    write_json(run / EVAL_FILE, result)
    return result


def evaluate_run(run: str | os.PathLike[str], clips: Any, shots: Sequence[int] = (1, 3, 5), draws: int = 5,
                 force: bool = False, kb_store: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Evaluate a finished run folder; writes and returns ``openvocab_eval.json`` (see module docstring).
    A CE-only run (``mc.enabled: false``) goes to :func:`evaluate_ce_run`.

    Args:
        run: the run folder (``best.ckpt``, ``config.yaml``, ``openvocab_split.json``).
        clips: the full dataset (all classes), as read for training.
        shots, draws: few-shot support sizes and how many random support sets per size.
        force: recompute even if the evaluation file exists (the feature cache is reused).
        kb_store: description store whose knowledge-base links give the baseline's attributes
            (default: the shipped ``gspmc/descriptions/traduttore_asl33.jsonl``, so the baseline is the
            same whatever store the run trained with).
    """
    from gspmc.inference.heads import head_weights
    from gspmc.openvocab.protocol import EVAL_FILE
    from gspmc.openvocab.space import part_text_prototypes, text_prototypes
    from gspmc.text import load_text_bank

    run = Path(run)
    if (run / EVAL_FILE).is_file() and not force:
        return read_json(run / EVAL_FILE)
    d = load_run(run, clips)
    if not d.text_space:
        return _evaluate_text_free(run, d, clips, shots, draws, kb_store)
    split, feats, mc = d.split, d.feats, d.config["mc"]["options"]
    tau = head_weights(d.ckpt["state_dict"]).tau or float(mc.get("tau", 0.1))
    bank = load_text_bank(mc["store"], clips.classes, mc.get("encoder", "minilm"), cache=mc.get("cache"))
    t_protos, t_has = text_prototypes(bank)  # (C_all, d), (C_all,)
    p_protos = part_text_prototypes(bank, list(feats.parts), mc.get("part_map") or {})

    labels, fold = d.labels, split.fold
    seen, unseen, val_unseen = d.seen, d.unseen, d.val_unseen
    seen_train, seen_val, seen_test = d.seen_train, d.seen_val, d.seen_test
    z_test, z_val, u_support_pool = d.z_test, d.z_val, d.u_support_pool
    emb, logp = feats.embedding, d.logp  # (N, d), (N, S) in ``seen`` order

    def zsl(idx: np.ndarray, space: np.ndarray, w: float) -> np.ndarray:
        g = text_scores(emb[idx], t_protos[space], t_has[space])
        return fused_scores(g, part_scores({p: e[idx] for p, e in feats.parts.items()}, p_protos, space), w)

    from gspmc.openvocab.protocol import file_sha256

    result: dict[str, Any] = {"objective": "gspmc", "split": split.to_json(), "tau": tau, "store": mc["store"],
                              "store_sha256": file_sha256(mc["store"]),
                              "encoder": bank.encoder_id, "sizes": _sizes(d),
                              "unseen_without_text": [clips.classes[c] for c in unseen if not t_has[c]],
                              "seen_without_text": [clips.classes[c] for c in seen if not t_has[c]]}
    n_u = len(unseen)
    result["chance"] = {"top1": 1 / n_u, "top5": min(5, n_u) / n_u}

    # zero-shot, U-way
    tz, vz = positions(labels[z_test], unseen), positions(labels[z_val], val_unseen)
    w_part, w_vals = pick_on_validation(PART_WEIGHTS, lambda w: topk_accuracy(zsl(z_val, val_unseen, w), vz, 1))
    zs: dict[str, Any] = {"part_weight": w_part, "val_by_part_weight": dict(zip(map(str, PART_WEIGHTS), w_vals,
                                                                                strict=True))}
    for name, w in (("global", 0.0), ("global+parts", w_part)):
        s = zsl(z_test, unseen, w)
        pred = rank_order(s)[:, 0]
        zs[name] = {"top1": topk_accuracy(s, tz, 1), "top5": topk_accuracy(s, tz, 5),
                    "mean_class": per_class_accuracy(pred, tz, range(n_u)),
                    "per_class": {clips.classes[c]: float((pred[tz == i] == i).mean()) for i, c in enumerate(unseen)}}
    result["zero_shot"] = zs

    # baseline: ridge to knowledge-base attributes, nearest unseen class
    result["baseline"] = attribute_baseline(clips, feats, labels, seen, val_unseen, unseen, seen_train, z_val, z_test,
                                            kb_store)

    # generalised zero-shot: calibrated stacking in the embedding space, and the enrolled recogniser
    def gzsl_sets(new: np.ndarray, seen_idx: np.ndarray, new_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        space = np.concatenate([seen, new])
        idx = np.concatenate([seen_idx, new_idx])
        return space, idx, positions(labels[idx], space)

    s_cols, g = list(range(len(seen))), {}
    for name, new, seen_idx, new_idx in (("val", val_unseen, seen_val, z_val), ("test", unseen, seen_test, z_test)):
        space, idx, tg = gzsl_sets(new, seen_idx, new_idx)
        g[name] = (space, idx, tg, list(range(len(seen), len(space))),
                   text_scores(emb[idx], t_protos[space], t_has[space]))
    is_seen = lambda space: np.isin(space, seen)  # noqa: E731
    vs, vidx, vtg, vu, vscore = g["val"]
    gamma, _ = pick_on_validation(GAMMAS, lambda c: gzsl_metrics(calibrated_stacking(vscore, is_seen(vs), c), vtg,
                                                                 s_cols, vu)["h"])
    ts, tidx, ttg, tu, tscore = g["test"]
    result["gzsl_embedding"] = {
        "gamma": gamma,
        "uncalibrated": gzsl_metrics(tscore, ttg, s_cols, tu),
        "calibrated": gzsl_metrics(calibrated_stacking(tscore, is_seen(ts), gamma), ttg, s_cols, tu)}

    def hybrid(idx: np.ndarray, protos: np.ndarray, bias: float) -> np.ndarray:
        return open_set_scores(logp[idx], cosine(emb[idx], protos), tau, bias)

    def zsl_protos(space: np.ndarray) -> np.ndarray:
        return t_protos[space]

    bias, _ = pick_on_validation(BIASES, lambda b: gzsl_metrics(hybrid(vidx, zsl_protos(val_unseen), b), vtg,
                                                                s_cols, vu)["h"])
    result["gzsl_recognizer"] = {
        "bias": bias,
        "bias0": gzsl_metrics(hybrid(tidx, zsl_protos(unseen), 0.0), ttg, s_cols, tu),
        "calibrated": gzsl_metrics(hybrid(tidx, zsl_protos(unseen), bias), ttg, s_cols, tu),
        "classifier_seen_top1": float(np.mean(rank_order(logp[seen_test])[:, 0]
                                              == positions(labels[seen_test], seen)))}

    # few-shot: text weight and calibration chosen on V (support and queries from the training side)
    def protos_of(classes: np.ndarray, cproto: np.ndarray, w: float) -> np.ndarray:
        return np.stack([combine(t_protos[c] if t_has[c] else None, cproto[j], w) for j, c in enumerate(classes)])

    def val_draw(k: int, draw: int) -> tuple[np.ndarray, np.ndarray]:
        sup = draw_support(_rng("val", fold, split.seed, k, draw), z_val, labels, val_unseen, k)
        return class_prototypes(emb[sup], labels[sup], val_unseen), np.setdiff1d(z_val, sup)  # (V, d), queries

    fs: dict[str, Any] = {}
    for k in shots:
        val_sets = [val_draw(k, d) for d in range(draws)]
        acc_by_w = [[topk_accuracy(cosine(emb[q], protos_of(val_unseen, cp, float(w))), positions(labels[q], val_unseen), 1)
                     for w in TEXT_WEIGHTS] for cp, q in val_sets]  # (draws, W)
        w_star = float(TEXT_WEIGHTS[best_index(np.mean(acc_by_w, axis=0))])
        weights = {"clips": 0.0, "clips+text": w_star}
        b_star = {}
        for tag, w in weights.items():
            picks = []
            for cp, q in val_sets:
                gidx, gsp = np.concatenate([seen_val, q]), np.concatenate([seen, val_unseen])
                gtg, protos = positions(labels[gidx], gsp), protos_of(val_unseen, cp, w)
                picks.append(pick_on_validation(BIASES, lambda b, gidx=gidx, gtg=gtg, protos=protos: gzsl_metrics(
                    hybrid(gidx, protos, b), gtg, s_cols, vu)["h"])[0])
            b_star[tag] = float(np.median(picks))
        per: dict[str, list[float]] = {}
        for draw in range(draws):
            for where, pool in (("cross_signer", u_support_pool), ("own_signer", z_test)):
                sup = support_draw(where, fold, split.seed, k, draw, pool, labels, unseen)
                qry = z_test if where == "cross_signer" else np.setdiff1d(z_test, sup)
                cproto, qt = class_prototypes(emb[sup], labels[sup], unseen), positions(labels[qry], unseen)
                for tag, w in weights.items():
                    protos = protos_of(unseen, cproto, w)  # (U, d)
                    sc = cosine(emb[qry], protos)
                    per.setdefault(f"{where}/{tag}/top1", []).append(topk_accuracy(sc, qt, 1))
                    per.setdefault(f"{where}/{tag}/top5", []).append(topk_accuracy(sc, qt, 5))
                    if where == "cross_signer":  # generalised: the enrolled recogniser over S + U
                        gidx, gsp = np.concatenate([seen_test, qry]), np.concatenate([seen, unseen])
                        m = gzsl_metrics(hybrid(gidx, protos, b_star[tag]), positions(labels[gidx], gsp), s_cols,
                                         list(range(len(seen), len(gsp))))
                        for key, val in m.items():
                            per.setdefault(f"gzsl/{tag}/{key}", []).append(val)
        # reference: the same prototypes on the backbone's S_g, before the projection head
        per.update(backbone_few_shot(feats.global_, labels, fold, split.seed, unseen, u_support_pool, z_test, k, draws))
        fs[str(k)] = {"text_weight": w_star, "bias": b_star, "val_by_text_weight": np.mean(acc_by_w, axis=0).tolist(),
                      **{key: _summary(v) for key, v in per.items()}}
    result["few_shot"] = fs
    result["draws"] = draws
    write_json(run / EVAL_FILE, result)
    return result
