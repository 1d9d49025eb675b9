"""``gspmc enroll``: add a class to a trained GSP-MC checkpoint from a few clips and/or a description,
remove classes, list them. No gradient step: a class is a prototype in the text-embedding space.

- clips (videos, ``.pose`` or ``.npz`` keypoint files, 1-5 typically): each goes through the
  predict pipeline (MediaPipe for a video; the checkpoint's input config) and the global
  projection head; the clip prototype is the mean of the unit embeddings.
- a description: embedded with the checkpoint's text encoder (``mc.options.encoder``); the text
  prototype is its unit embedding.
- both: ``w unit(text) + (1 - w) unit(clips)`` with ``w = --text-weight`` (default chosen on the
  validation classes of the open-vocabulary protocol, docs/open-vocabulary.md).

The result is written to ``--out`` as a self-contained inference checkpoint (the recognition
network, the projection heads and the open vocabulary, :mod:`gspmc.inference.enrolled`) that
``predict``, ``export`` and ``live`` load like any other. Every input is checked and every
embedding computed before anything is written, and the file is written atomically: a failed
enrolment leaves no file (and an existing ``--out`` untouched).
"""

from __future__ import annotations

import copy
import io
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gspmc.errors import ConfigError, DataError
from gspmc.inference.checkpoint import Recognizer, load_recognizer, read_checkpoint
from gspmc.inference.enrolled import DEFAULT_TEXT_WEIGHT, EnrolledClass, OpenVocabState, default_bias
from gspmc.inference.heads import NO_TEXT_SPACE_HINT, head_state
from gspmc.inference.predictor import load_keypoints, model_input, normalized_coords
from gspmc.inference.prototypes import mean_prototype, unit
from gspmc.io import write_bytes
from gspmc.text import get_text_encoder
from gspmc.video.holistic import LAYOUT, HolisticRunner

MAX_DESCRIPTION_CHARS = 2000


def normalize_name(name: str) -> str:
    """Case-folded, ``-`` / ``_`` / spaces unified: two glosses with the same key are the same class."""
    return re.sub(r"[\s_\-]+", " ", name.strip().casefold()).strip()


@dataclass(frozen=True)
class EnrollResult:
    """What an enrolment (or removal) wrote."""

    out: Path
    classes: list[str]  # the output classes of the written checkpoint, in order
    message: str


def load_enrollable(checkpoint: str | os.PathLike[str]) -> tuple[dict[str, Any], Recognizer]:
    """The checkpoint dict and its Recognizer; DataError if it has no GSP-MC text space."""
    ckpt = read_checkpoint(checkpoint)
    rec = load_recognizer(checkpoint)
    if not rec.has_embedding:
        raise DataError(checkpoint, "this checkpoint was trained without GSP-MC, so it has no text-embedding space "
                        f"to enrol classes into (no 'objective.global_head' weights); {NO_TEXT_SPACE_HINT}")
    return ckpt, rec


def clip_inputs(rec: Recognizer, files: Sequence[str | os.PathLike[str]], units: str = "normalized") -> np.ndarray:
    """Model inputs (n, C, T, V) of clip files (videos or keypoint files), every file checked.

    Raises:
        ConfigError: no file, or a file given twice.
        DataError: a file that is missing, unreadable, of another layout, empty, or in which no
            keypoint (or none of the model's joints) was observed; the message names the file.
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise ConfigError("no clip given")
    seen: dict[Path, Path] = {}
    for p in paths:
        key = p.resolve()
        if key in seen:
            raise ConfigError(f"{p}: clip given twice (also as {seen[key]})")
        seen[key] = p
    xs = []
    runner = None
    try:
        for p in paths:
            if not p.is_file():
                raise DataError(p, "no such clip file")
            if p.suffix.lower() not in (".pose", ".npz") and runner is None:
                runner = HolisticRunner()
            clip = load_keypoints(p, runner)
            if clip.num_frames == 0:
                raise DataError(p, "the clip has no frames")
            coords, mask = normalized_coords(clip, units)
            if not mask.any():
                raise DataError(p, "no keypoint was observed in any frame (empty or all-missing clip)")
            x = model_input(coords, mask, LAYOUT, rec.input_cfg, score=clip.confidence, source=str(p))  # (C, T, V)
            if not np.any(x[2] > 0):
                raise DataError(p, f"none of the model's {rec.layout.num_joints} joints ({rec.layout.name}) was "
                                "observed in any frame")
            xs.append(x)
    finally:
        if runner is not None:
            runner.close()
    return np.stack(xs).astype(np.float32)  # (n, C, T, V)


def text_embedding(rec: Recognizer, description: str) -> np.ndarray:
    """(d,) unit embedding of a description with the checkpoint's text encoder."""
    text = " ".join(str(description).split())
    if not text:
        raise ConfigError("--description is empty")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise ConfigError(f"--description has {len(text)} characters; at most {MAX_DESCRIPTION_CHARS}")
    spec = ((rec.config.get("mc") or {}).get("options") or {}).get("encoder", "minilm")
    emb = np.asarray(get_text_encoder(spec).encode([text]), np.float32)  # (1, d')
    dim = int(rec.net.head.out_features)
    if emb.shape != (1, dim):
        raise DataError(rec.path, f"text encoder {spec!r} gives {emb.shape[1]}-d embeddings, the checkpoint's "
                        f"space is {dim}-d: not the encoder it was trained with")
    return unit(emb[0])


def _match(name: str, names: Sequence[str]) -> str | None:
    key = normalize_name(name)
    return next((n for n in names if normalize_name(n) == key), None)


def check_gloss(name: str) -> str:
    """A usable class name (stripped); ConfigError for an empty or multi-line one."""
    gloss = str(name).strip()
    if not gloss or "\n" in gloss or len(gloss) > 100:
        raise ConfigError(f"--gloss {name!r}: expected a non-empty, single-line name of at most 100 characters")
    return gloss


def _lean_checkpoint(ckpt: dict[str, Any], state: OpenVocabState, dim: int) -> dict[str, Any]:
    """The inference checkpoint to write: model + heads + open vocabulary (no optimiser state)."""
    weights = {k: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    weights.update(head_state(ckpt["state_dict"]))
    out = {"state_dict": weights, "gspmc": copy.deepcopy(ckpt["gspmc"]), "epoch": ckpt.get("epoch")}
    state.to_checkpoint(out, dim)
    return out


def _write(ckpt: dict[str, Any], out: Path, source: Path) -> None:
    """Serialise, check that it reads back, then write atomically (gspmc.io)."""
    if out.resolve() == source.resolve() and source.exists():
        if "optimizer_states" in read_checkpoint(source):
            raise ConfigError(f"{out}: refusing to overwrite the training checkpoint; pass another --out")
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    data = buf.getvalue()
    back = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    OpenVocabState.from_checkpoint(back, out, 0.1)  # raises if the entry does not read back
    write_bytes(out, data)


def enroll(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], gloss: str,
           clips: Sequence[str | os.PathLike[str]] = (), description: str | None = None, *, replace: bool = False,
           text_weight: float | None = None, bias: float | None = None, units: str = "normalized") -> EnrollResult:
    """Add (or with ``replace``, replace) class ``gloss``; write the enrolled checkpoint to ``out``.

    Args:
        clips: 1+ videos or keypoint files of the sign; description: a text of how it is made.
            At least one of the two.
        replace: allow ``gloss`` to be an existing class (an enrolled one is redefined; a trained
            one is hidden and the new prototype takes its name).
        text_weight: w for a class with clips and a description (default: DEFAULT_TEXT_WEIGHT).
        bias: seen-class calibration added to the new class's score (default: DEFAULT_BIAS_CLIPS for a
            class with clips, DEFAULT_BIAS_TEXT for a description-only one).
        units: keypoint units, as for ``gspmc predict``.
    """
    checkpoint, out = Path(checkpoint), Path(out)
    gloss = check_gloss(gloss)
    if not clips and description is None:
        raise ConfigError("give --clips and/or --description for the new class")
    w = DEFAULT_TEXT_WEIGHT if text_weight is None else float(text_weight)
    if not 0.0 <= w <= 1.0:
        raise ConfigError(f"--text-weight must be in [0, 1], got {w}")
    ckpt, rec = load_enrollable(checkpoint)
    state: OpenVocabState = copy.deepcopy(rec.openvocab)
    existing = _match(gloss, rec.classes)
    replaced = ""
    if existing is not None:
        if not replace:
            kind = "an enrolled" if _match(gloss, [c.gloss for c in state.enrolled]) else "a trained"
            raise ConfigError(f"{checkpoint}: {existing!r} is already {kind} class of this checkpoint; pass --replace "
                              "to redefine it, or choose another --gloss")
        replaced = existing
    text = text_embedding(rec, description) if description is not None else None
    clip_proto, sources = None, []
    if clips:
        emb = rec.embed(clip_inputs(rec, clips, units))  # (n, d)
        clip_proto, sources = mean_prototype(emb), [Path(c).name for c in clips]
    entry = EnrolledClass(gloss=gloss, text=text, clips=clip_proto, text_weight=w,
                          bias=default_bias(clip_proto is not None) if bias is None else float(bias), sources=sources,
                          description=None if description is None else " ".join(description.split()),
                          created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    enrolled_names = [c.gloss for c in state.enrolled]
    if replaced and replaced in enrolled_names:
        state.enrolled[enrolled_names.index(replaced)] = entry
    else:
        if replaced:
            state.hidden.append(replaced)
        state.enrolled.append(entry)
    dim = int(rec.net.head.out_features)
    _write(_lean_checkpoint(ckpt, state, dim), out, checkpoint)
    classes = [c for c in rec.trained_classes if c not in state.hidden] + [c.gloss for c in state.enrolled]
    what = " + ".join(p for p in (f"{len(sources)} clip(s)" if sources else "", "a description" if text is not None
                                  else "") if p)
    msg = (f"enrolled {gloss!r} from {what}" + (f" (replacing {replaced!r})" if replaced else "")
           + f"; {len(classes)} classes; wrote {out}")
    return EnrollResult(out, classes, msg)


def remove(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], glosses: Sequence[str]) -> EnrollResult:
    """Remove classes: an enrolled class is deleted, a trained one hidden from the output."""
    checkpoint, out = Path(checkpoint), Path(out)
    if not glosses:
        raise ConfigError("--remove needs at least one class name")
    keys = [normalize_name(g) for g in glosses]
    dup = sorted({g for g, k in zip(glosses, keys, strict=True) if keys.count(k) > 1})
    if dup:
        raise ConfigError(f"--remove names {dup} more than once")
    ckpt, rec = load_enrollable(checkpoint)
    state: OpenVocabState = copy.deepcopy(rec.openvocab)
    for g in glosses:
        name = _match(g, rec.classes)
        if name is None:
            raise ConfigError(f"{checkpoint}: no class {g!r} (classes: {', '.join(rec.classes)})")
        enrolled = [c.gloss for c in state.enrolled]
        if name in enrolled:
            del state.enrolled[enrolled.index(name)]
        else:
            state.hidden.append(name)
    classes = [c for c in rec.trained_classes if c not in state.hidden] + [c.gloss for c in state.enrolled]
    if not classes:
        raise ConfigError(f"{checkpoint}: removing {list(glosses)} would leave no class")
    _write(_lean_checkpoint(ckpt, state, int(rec.net.head.out_features)), out, checkpoint)
    return EnrollResult(out, classes, f"removed {', '.join(map(repr, glosses))}; {len(classes)} classes; wrote {out}")


def describe_classes(checkpoint: str | os.PathLike[str]) -> str:
    """A few lines listing the checkpoint's classes: trained, hidden, enrolled (with their sources)."""
    _, rec = load_enrollable(checkpoint)
    state: OpenVocabState = rec.openvocab
    visible = [c for c in rec.trained_classes if c not in state.hidden]
    lines = [f"{checkpoint}: {len(rec.classes)} classes ({len(visible)} trained, {len(state.enrolled)} enrolled); "
             f"embedding {rec.net.head.out_features}-d, tau {state.tau:g}",
             f"  trained: {', '.join(visible)}"]
    if state.hidden:
        lines.append(f"  hidden (removed trained classes): {', '.join(state.hidden)}")
    for c in state.enrolled:
        parts = []
        if c.clips is not None:
            parts.append(f"{len(c.sources)} clip(s): {', '.join(c.sources)}")
        if c.text is not None:
            parts.append(f"description: {c.description!r}")
        weight = f"; text weight {c.text_weight:g}" if c.clips is not None and c.text is not None else ""
        lines.append(f"  enrolled: {c.gloss} ({'; '.join(parts)}{weight}; bias {c.bias:g})")
    return "\n".join(lines)
