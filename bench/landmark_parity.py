"""ONNX vs torch logits of a trained checkpoint on the real clips of its own validation and test splits.

    python bench/landmark_parity.py runs/lm/probe/landmark-small/TheCamNelson/joint/seed0/best.ckpt model.onnx
"""

from __future__ import annotations

import sys

import numpy as np


def main(ckpt: str, onnx_path: str, limit: int = 256) -> int:
    from gspmc.inference.checkpoint import load_recognizer
    from gspmc.inference.runners import OnnxRecognizer
    from gspmc.train.config import config_from_dict
    from gspmc.train.datamodule import SkeletonDataModule

    rec = load_recognizer(ckpt)
    data = __import__("torch").load(ckpt, weights_only=True)["gspmc"]
    cfg = config_from_dict(data["config"])
    dm = SkeletonDataModule(cfg)
    dm.setup()
    onnx = OnnxRecognizer(onnx_path)
    for name, ds in (("val", dm.val_set), ("test", dm.test_set)):
        x = np.stack([ds[i][0].numpy() for i in range(min(limit, len(ds)))])  # (N, C, T, V)
        ref, got = rec.logits(x), onnx.logits(x)
        agree = float((ref.argmax(1) == got.argmax(1)).mean())
        print(f"{name}: {len(x)} real clips, max abs logit diff {np.abs(ref - got).max():.2e}, argmax agreement {agree:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
