"""Fixtures for the training tests: a tiny, learnable synthetic dataset in the traduttore npz format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SIGNERS = ("TheCamNelson", "dmohazab", "Alex")
CLASSES = ("-", "coffee", "tea")


def synthetic_mp_data(clips_per_class: int = 6, frames: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """MP_Data-format clips (N, T, 258): a still body; the right hand moves up (class 1), right (class 2)
    or stays (class 0), with per-signer offsets and noise, so the classes are learnable across signers."""
    rng = np.random.default_rng(seed)
    kp, labels, signers, ids = [], [], [], []
    for s, signer in enumerate(SIGNERS):
        for label in range(len(CLASSES)):
            for k in range(clips_per_class):
                pose = np.zeros((33, 4), np.float32)
                pose[:, 0] = 0.5 + rng.normal(0, 0.02, 33)
                pose[:, 1] = 0.5 + np.linspace(-0.3, 0.4, 33)
                pose[11, :2] = (0.6, 0.4)  # left shoulder
                pose[12, :2] = (0.4, 0.4)  # right shoulder
                pose[:, 3] = 1.0  # visibility
                pose[:, :2] += 0.05 * s  # signer offset
                frames_out = []
                for t in range(frames):
                    step = t / max(frames - 1, 1)
                    hand = np.zeros((21, 3), np.float32)
                    hand[:, 0] = 0.35 + rng.normal(0, 0.01, 21) + (0.2 * step if label == 2 else 0.0)
                    hand[:, 1] = 0.6 + rng.normal(0, 0.01, 21) - (0.2 * step if label == 1 else 0.0)
                    left = np.zeros((21, 3), np.float32)  # the left hand is never detected
                    frames_out.append(np.concatenate([pose.reshape(-1), left.reshape(-1), hand.reshape(-1)]))
                kp.append(np.stack(frames_out))
                labels.append(label)
                signers.append(signer)
                ids.append(f"MP_Data/{CLASSES[label]}/{signer}{k}")
    n = len(kp)
    return {
        "keypoints": np.stack(kp).astype(np.float16),  # (N, T, 258)
        "lengths": np.full(n, frames, np.int32),
        "labels": np.asarray(labels, np.int64),
        "classes": np.asarray(CLASSES),
        "signers": np.asarray(signers),
        "sessions": np.asarray(["MP_Data"] * n),
        "ids": np.asarray(ids),
    }


@pytest.fixture(scope="session")
def synthetic_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synthetic") / "tiny_asl.npz"
    np.savez(path, **synthetic_mp_data())
    return path


def tiny_config_text(data_path: Path, epochs: int = 2, mc: tuple[Path, Path] | None = None) -> str:
    """A config for a seconds-long run on the synthetic data (tiny CTR-GCN, T=8); with ``mc`` (a store and
    its embedding cache, :func:`tiny_store`) GSP-MC is on."""
    gsp = "" if mc is None else (f"mc: {{enabled: true, alpha: 0.5, options: {{store: {str(mc[0])!r}, "
                                 f"cache: {str(mc[1])!r}, encoder: minilm, embed_missing: false}}}}\n")
    return gsp + f"""
name: tiny
data: {{dataset: traduttore, path: {str(data_path)!r}, protocol: traduttore-xsigner, fold: TheCamNelson}}
input: {{layout: gspmc-55, window: 8, stream: joint, normalize: shoulders}}
augment: {{rotation_deg: 5.0}}
model: {{profile: cpu-small, channels: [8, 8], strides: [1, 2]}}
optim: {{lr: 0.05, batch_size: 8, epochs: {epochs}, warmup_epochs: 1, milestones: [{epochs + 1}], weight_decay: 1.0e-4}}
trainer: {{seed: 0, accelerator: cpu, devices: "1", progress_bar: false, eval_batch_size: 16, threads: 1}}
"""


@pytest.fixture()
def make_tiny_config(tmp_path: Path, synthetic_npz: Path):
    """``make_tiny_config(epochs=2, data_path=None, mc=None) -> Path`` of a tiny config file on the synthetic
    data (``mc``: GSP-MC on with that store and cache)."""

    def make(epochs: int = 2, data_path: Path | None = None, mc: tuple[Path, Path] | None = None) -> Path:
        path = tmp_path / f"tiny_{epochs}{'_mc' if mc else ''}.yaml"
        path.write_text(tiny_config_text(data_path or synthetic_npz, epochs=epochs, mc=mc))
        return path

    return make


@pytest.fixture()
def synthetic_classes() -> list[str]:
    return list(CLASSES)


@pytest.fixture()
def tiny_store(tmp_path: Path) -> tuple[Path, Path]:
    """A description store for the synthetic classes and its prepared embedding cache (random vectors
    under the MiniLM id, so no text model loads): ``(store.jsonl, store.emb.npz)``."""
    import json

    from gspmc.text.cache import EmbeddingCache, save_cache, text_hash
    from gspmc.text.encoders import get_text_encoder

    parts = ("left_hand", "right_hand", "body", "face", "mouth")
    store = tmp_path / "asl.jsonl"
    recs = [{"gloss": g, "status": "ok", "global": [f"{g} global"], "synonyms": [f"{g} syn"],
             "parts": {p: [f"{g} {p}"] for p in parts}} for g in CLASSES]
    store.write_text("\n".join([json.dumps({"format": "gspmc-descriptions", "version": 1, "parts": list(parts)})]
                               + [json.dumps(r) for r in recs]) + "\n", encoding="utf-8")
    texts = [t for r in recs for t in [*r["global"], *r["synonyms"], *[x for v in r["parts"].values() for x in v]]]
    emb = np.random.default_rng(0).standard_normal((len(texts), 384)).astype(np.float32)
    cache = tmp_path / "asl.emb.npz"
    save_cache(cache, EmbeddingCache(get_text_encoder("minilm").id, np.asarray([text_hash(t) for t in texts]), emb))
    return store, cache


@pytest.fixture(scope="session")
def synthetic_builders() -> tuple:
    """``(synthetic_mp_data, tiny_config_text, CLASSES)`` for tests that build their own variants
    (test modules are not importable packages)."""
    return synthetic_mp_data, tiny_config_text, CLASSES
