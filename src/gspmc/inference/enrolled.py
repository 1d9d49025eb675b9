"""What an enrolled checkpoint stores about its open vocabulary, and how it is read back.

An enrolled checkpoint is a gspmc checkpoint (format 1, loaded by
:func:`gspmc.inference.checkpoint.load_recognizer`) whose ``checkpoint["gspmc"]["openvocab"]`` is::

    {"version": 1,
     "tau": 0.1,                 # temperature of the enrolled scores (the training temperature)
     "hidden": ["x"],            # trained classes removed from the output
     "enrolled": [{"gloss": "abdomen", "text_weight": 0.5, "bias": 2.0, "has_text": true, "has_clips": true,
                   "clips": ["wlasl_00335.mp4", ...], "description": "..." | null, "created": "..."}]}

and whose ``state_dict`` holds, besides ``model.*`` and the projection heads,
``openvocab.text`` and ``openvocab.clip`` (J, d): each enrolled class's text and clip prototypes
(zero rows where the class has none; see :mod:`gspmc.inference.prototypes`). ``bias`` is the
class's seen-class calibration, added to its score (:mod:`gspmc.inference.heads`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gspmc.errors import DataError
from gspmc.inference.prototypes import combine

OPENVOCAB_KEY = "openvocab"
STATE_VERSION = 1
TEXT_KEY = "openvocab.text"
CLIP_KEY = "openvocab.clip"
# defaults of `gspmc enroll`, chosen on the validation classes of the open-vocabulary protocol
# (docs/open-vocabulary.md, "Defaults"): the text weight w of a class enrolled from clips and a
# description, and the bias added to an enrolled class's score (seen-class calibration), which
# differs for a class with clips (cosines to a clip prototype are high) and a description-only one
# (18 runs: 3 stores x 2 folds x 3 class splits; the pooled validation curve peaks at w = 0, the median
# bias chosen for clip prototypes is 1.625 and for description-only prototypes 8.5)
DEFAULT_TEXT_WEIGHT = 0.0
DEFAULT_BIAS_CLIPS = 1.625
DEFAULT_BIAS_TEXT = 8.5


def default_bias(has_clips: bool) -> float:
    """The default calibration of a class enrolled with clips, or from a description only."""
    return DEFAULT_BIAS_CLIPS if has_clips else DEFAULT_BIAS_TEXT


@dataclass
class EnrolledClass:
    """One enrolled class: its prototypes and where they came from."""

    gloss: str
    text: np.ndarray | None  # (d,) text prototype, or None
    clips: np.ndarray | None  # (d,) clip prototype, or None
    text_weight: float  # w in w unit(text) + (1 - w) unit(clips)
    bias: float  # added to the class's score (seen-class calibration)
    sources: list[str] = field(default_factory=list)  # clip file names
    description: str | None = None
    created: str = ""

    def prototype(self) -> np.ndarray:
        """(d,) the combined prototype (:func:`gspmc.inference.prototypes.combine`)."""
        return combine(self.text, self.clips, self.text_weight)

    def to_meta(self) -> dict[str, Any]:
        return {"gloss": self.gloss, "text_weight": float(self.text_weight), "bias": float(self.bias), "has_text": self.text is not None,
                "has_clips": self.clips is not None, "clips": list(self.sources), "description": self.description,
                "created": self.created}


@dataclass
class OpenVocabState:
    """The open vocabulary of a checkpoint: enrolled classes, hidden trained classes, temperature."""

    tau: float
    hidden: list[str] = field(default_factory=list)
    enrolled: list[EnrolledClass] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """True when the output differs from the trained classifier's (something enrolled or hidden)."""
        return bool(self.enrolled or self.hidden)

    def prototypes(self, dim: int) -> np.ndarray:
        """(J, d) combined prototypes of the enrolled classes, in enrolment order."""
        if not self.enrolled:
            return np.zeros((0, dim), np.float32)
        return np.stack([c.prototype() for c in self.enrolled]).astype(np.float32)

    def biases(self) -> np.ndarray:
        """(J,) the enrolled classes' calibration biases."""
        return np.asarray([c.bias for c in self.enrolled], np.float32)

    def to_checkpoint(self, ckpt: dict[str, Any], dim: int) -> None:
        """Write this state into a checkpoint dict (meta + ``openvocab.*`` tensors), in place."""
        ckpt["gspmc"][OPENVOCAB_KEY] = {
            "version": STATE_VERSION, "tau": float(self.tau), "hidden": list(self.hidden), "enrolled": [c.to_meta() for c in self.enrolled],
        }
        text = np.zeros((len(self.enrolled), dim), np.float32)  # (J, d)
        clip = np.zeros((len(self.enrolled), dim), np.float32)  # (J, d)
        for j, c in enumerate(self.enrolled):
            if c.text is not None:
                text[j] = c.text
            if c.clips is not None:
                clip[j] = c.clips
        ckpt["state_dict"][TEXT_KEY] = torch.from_numpy(text)
        ckpt["state_dict"][CLIP_KEY] = torch.from_numpy(clip)

    @classmethod
    def from_checkpoint(cls, ckpt: Mapping[str, Any], path: Any, default_tau: float) -> OpenVocabState:
        """The state stored in ``ckpt`` (an empty one with temperature ``default_tau`` when there is none)."""
        meta = ckpt["gspmc"].get(OPENVOCAB_KEY)
        if meta is None:
            return cls(tau=default_tau)
        version = meta.get("version") if isinstance(meta, Mapping) else None
        if version != STATE_VERSION:
            raise DataError(path, f"open-vocabulary entry of version {version!r} is not supported "
                            f"(expected {STATE_VERSION})")
        try:
            entries = list(meta["enrolled"])
            state = ckpt["state_dict"]
            text = state[TEXT_KEY].float().numpy() if entries else None  # (J, d)
            clip = state[CLIP_KEY].float().numpy() if entries else None  # (J, d)
            if entries and (text.shape[0] != len(entries) or clip.shape[0] != len(entries)):
                raise ValueError(f"{len(entries)} enrolled classes but prototypes of shape {text.shape}")
            enrolled = [EnrolledClass(gloss=str(e["gloss"]), text=text[j].copy() if e["has_text"] else None,
                                      clips=clip[j].copy() if e["has_clips"] else None,
                                      text_weight=float(e["text_weight"]), bias=float(e["bias"]), sources=list(e.get("clips", [])),
                                      description=e.get("description"), created=str(e.get("created", "")))
                        for j, e in enumerate(entries)]
            return cls(tau=float(meta["tau"]), hidden=[str(h) for h in meta["hidden"]],
                       enrolled=enrolled)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise DataError(path, f"open-vocabulary entry is damaged ({type(err).__name__}: {err})") from None
