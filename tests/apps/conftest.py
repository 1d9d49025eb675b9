"""Fixtures for the apps and inference tests: small checkpoints in the training checkpoint format.

The checkpoints are written exactly as the training module writes them (``torch.save`` of
``{"state_dict": {"model.<name>": tensor}, "gspmc": checkpoint_meta(...)}``, see
gspmc.inference.checkpoint), with a small seeded, untrained CTR-GCN: these tests check the plumbing
(layouts, input config, classes, export parity), not accuracy. The trained end-to-end run with
``make demo`` is documented in docs/video.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_CHANNELS = (16, 16, 32)
TINY_STRIDES = (1, 2, 1)
CLASSES = ["coffee", "tea", "muffin", "please", "thank-you", "-"]


def make_checkpoint(path: Path, classes: list[str], seed: int = 0, stream: str = "joint",
                    layout: str = "gspmc-55", window: int = 20) -> Path:
    """Write a seeded, untrained small CTR-GCN as a gspmc training checkpoint at ``path``."""
    import torch

    from gspmc.inference.checkpoint import checkpoint_meta
    from gspmc.models import build_model, get_profile
    from gspmc.pose.layouts import get_layout
    from gspmc.pose.transforms import InputConfig
    from gspmc.train.config import Config, ModelSection, config_to_dict

    overrides = {"channels": TINY_CHANNELS, "strides": TINY_STRIDES}
    cfg = Config(
        name="apps-test",
        input=InputConfig(layout=layout, window=window, stream=stream, normalize="shoulders"),
        model=ModelSection(profile="cpu-small", overrides=overrides),
    )
    model_cfg = get_profile("cpu-small", **overrides)
    torch.manual_seed(seed)
    model = build_model(model_cfg, len(classes), get_layout(layout)).eval()
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    meta = checkpoint_meta(config_to_dict(cfg), list(classes), model_cfg, epoch=0)
    torch.save({"state_dict": state, "gspmc": meta, "epoch": 0}, path)
    return path


@pytest.fixture(scope="session")
def make_ckpt():
    """The :func:`make_checkpoint` helper (test modules are not importable packages)."""
    return make_checkpoint


@pytest.fixture(scope="session")
def classes() -> list[str]:
    return list(CLASSES)


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def tiny_checkpoint(checkpoint_dir: Path) -> Path:
    return make_checkpoint(checkpoint_dir / "joint.ckpt", CLASSES, seed=0)


@pytest.fixture(scope="session")
def tiny_bone_checkpoint(checkpoint_dir: Path) -> Path:
    return make_checkpoint(checkpoint_dir / "bone.ckpt", CLASSES, seed=1, stream="bone")
