"""Fixtures for the open-vocabulary tests: small GSP-MC checkpoints, synthetic keypoint clips and a
deterministic text encoder.

The checkpoints are written in the training checkpoint format (``torch.save`` of
``{"state_dict": {"model.*", "objective.*"}, "gspmc": checkpoint_meta(...), "optimizer_states": []}``),
with a small seeded, untrained CTR-GCN and seeded projection heads: these tests check prototypes,
scoring, enrolment, files and export parity, not accuracy (that is docs/open-vocabulary.md).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from gspmc.text import encoders as enc_mod
from gspmc.text.encoders import TextEncoder

CLASSES = ["coffee", "tea", "please", "-"]
DIM = 32  # text-space dimension of the test encoder and heads
TINY = {"channels": (16, 16, 32), "strides": (1, 2, 1)}


class HashEncoder(TextEncoder):
    """Bag of hashed character trigrams in ``DIM`` buckets (deterministic, no model)."""

    name = "test-hash"

    @property
    def id(self) -> str:
        return "test-hash@1"

    @property
    def dim(self) -> int:
        return DIM

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float64)
        for i, t in enumerate(texts):
            s = f"  {t.lower()} "
            for j in range(len(s) - 2):
                h = int.from_bytes(hashlib.md5(s[j : j + 3].encode()).digest()[:4], "little")
                out[i, h % DIM] += 1.0
        return out


@pytest.fixture(autouse=True)
def hash_encoder(monkeypatch: pytest.MonkeyPatch) -> HashEncoder:
    """``get_text_encoder("test-hash")`` gives a HashEncoder during every test here."""
    encoder = HashEncoder()
    monkeypatch.setitem(enc_mod._REGISTRY, "test-hash", lambda arg, device: encoder)
    return encoder


def make_checkpoint(path: Path, classes: list[str] | None = None, seed: int = 0, heads: bool = True,
                    layout: str = "sam-slr-27", window: int = 20) -> Path:
    """A seeded, untrained small CTR-GCN (+ GSP-MC heads when ``heads``) as a training checkpoint."""
    import torch

    from gspmc.inference.checkpoint import checkpoint_meta
    from gspmc.models import build_model, get_profile
    from gspmc.pose.layouts import get_layout
    from gspmc.pose.transforms import InputConfig
    from gspmc.train.config import Config, MCConfig, ModelSection, config_to_dict

    classes = list(classes or CLASSES)
    mc = MCConfig(enabled=heads, alpha=0.5, options={"store": "unused.jsonl", "encoder": "test-hash"}) if heads \
        else MCConfig()
    cfg = Config(name="openvocab-test", input=InputConfig(layout=layout, window=window, stream="joint",
                                                         normalize="shoulders"),
                 model=ModelSection(profile="cpu-small", overrides=dict(TINY)), mc=mc)
    model_cfg = get_profile("cpu-small", **TINY)
    torch.manual_seed(seed)
    lay = get_layout(layout)
    model = build_model(model_cfg, len(classes), lay).eval()
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    if heads:
        g = torch.Generator().manual_seed(seed + 1)
        d = model_cfg.feature_dim
        w = torch.randn(DIM, d, generator=g) / math.sqrt(d)
        # centre the synthetic clips' features (an untrained encoder maps every clip close to one common
        # vector; a trained head would not): bias = -W mean(S_g) over two clips of each kind
        x = torch.from_numpy(np.stack([_model_input(holistic_clip(k, 100 + s), cfg.input) for k in range(4)
                                       for s in range(2)]))  # (8, 3, T, V)
        with torch.no_grad():
            mean_g = model.encode(x).global_.mean(0)  # (D,)
        state["objective.global_head.weight"] = w
        state["objective.global_head.bias"] = -(w @ mean_g)
        for part in lay.parts:
            state[f"objective.part_heads.{part}.weight"] = torch.randn(DIM, d, generator=g) / math.sqrt(d)
            state[f"objective.part_heads.{part}.bias"] = torch.zeros(DIM)
        state["objective.contrastive.log_scale"] = torch.tensor(math.log(10.0))  # tau = 0.1
    meta = checkpoint_meta(config_to_dict(cfg), classes, model_cfg, epoch=3)
    torch.save({"state_dict": state, "gspmc": meta, "epoch": 3, "optimizer_states": []}, path)
    return path


def _model_input(clip, input_cfg) -> np.ndarray:
    from gspmc.inference.predictor import model_input, normalized_coords
    from gspmc.video.holistic import LAYOUT

    coords, mask = normalized_coords(clip)
    return model_input(coords, mask, LAYOUT, input_cfg, score=clip.confidence)  # (C, T, V)


def holistic_clip(kind: int, seed: int, frames: int = 24, width: int = 640, height: int = 480):
    """A synthetic MediaPipe-holistic clip: a still body, the right hand tracing a path that depends on
    ``kind`` (0: circle, 1: up-down, 2: left-right, 3: still), small per-clip noise (``seed``)."""
    from gspmc.video.holistic import OFFSETS, HolisticClip

    rng = np.random.default_rng([kind, seed])
    coords = np.zeros((frames, 543, 3), np.float32)
    conf = np.zeros((frames, 543), np.float32)
    pose = np.stack([320 + 60 * np.sin(np.arange(33)), 150 + 8 * np.arange(33), np.zeros(33)], 1)  # (33, 3)
    pose[11, :2], pose[12, :2] = (380, 200), (260, 200)  # shoulders (left = signer's left)
    pose[13, :2], pose[14, :2] = (400, 280), (240, 280)  # elbows
    pose[15, :2], pose[16, :2] = (410, 350), (230, 350)  # wrists
    hand_shape = np.stack([np.linspace(0, 40, 21), 15 * np.cos(np.arange(21)), np.zeros(21)], 1)  # (21, 3)
    for t in range(frames):
        phase = 2 * np.pi * t / frames
        offset = {0: (60 * np.cos(phase), 60 * np.sin(phase)), 1: (0.0, 90 * np.sin(phase)),
                  2: (90 * np.sin(phase), 0.0), 3: (0.0, 0.0)}[kind]
        right = pose[16] + np.array([offset[0], offset[1] - 120, 0.0])
        coords[t, OFFSETS["POSE_LANDMARKS"]:OFFSETS["POSE_LANDMARKS"] + 33] = pose + rng.normal(0, 1.5, (33, 3))
        base = OFFSETS["RIGHT_HAND_LANDMARKS"]
        coords[t, base:base + 21] = right + hand_shape + rng.normal(0, 1.5, (21, 3))
        coords[t, OFFSETS["POSE_LANDMARKS"] + 16, :2] = right[:2]  # the right wrist follows the hand
        conf[t, OFFSETS["POSE_LANDMARKS"]:OFFSETS["POSE_LANDMARKS"] + 33] = 0.99
        conf[t, base:base + 21] = 1.0
    coords[:, :, 2] = 0.0
    return HolisticClip(coords, conf, 30.0, width, height)


def write_clips(folder: Path, kind: int, n: int, prefix: str | None = None) -> list[Path]:
    """``n`` synthetic ``.npz`` keypoint files of ``kind`` in ``folder``."""
    from gspmc.video.posefile import write_npz

    folder.mkdir(parents=True, exist_ok=True)
    return [write_npz(folder / f"{prefix or f'kind{kind}'}_{i}.npz", holistic_clip(kind, i)) for i in range(n)]


@pytest.fixture
def gspmc_ckpt(tmp_path: Path) -> Path:
    return make_checkpoint(tmp_path / "gspmc.ckpt")


@pytest.fixture
def ce_ckpt(tmp_path: Path) -> Path:
    return make_checkpoint(tmp_path / "ce.ckpt", heads=False)


@pytest.fixture
def clip_files(tmp_path: Path) -> dict[int, list[Path]]:
    """Three synthetic keypoint files per kind 0, 1, 2."""
    return {k: write_clips(tmp_path / "clips", k, 3) for k in range(3)}


@pytest.fixture
def helpers():
    """The module-level helpers (test modules are not importable packages)."""
    return {"make_checkpoint": make_checkpoint, "write_clips": write_clips, "holistic_clip": holistic_clip}
