"""Benchmark: CPU latency of the recognition path, ms per clip at batch 1, for torch eager,
TorchScript and ONNX Runtime (reference: torch eager, in the same process, as a ratio).

The model is a training checkpoint (``--checkpoint``, e.g. one written by ``make demo``) or, by
default, an untrained model of a named profile (latency does not depend on the weight values).
Inputs are real keypoints (the AUTSL clip's shipped ``.pose`` file) when ../shared/data is there,
else random. Runs are interleaved (eager, TorchScript, ONNX, eager, ...) so that load from other
jobs on a shared machine hits all three alike; the median of the rounds is reported.

    .venv/bin/python bench/bench_export.py [--profile cpu-small|full] [--window 20] [--layout gspmc-55]
                                           [--checkpoint CKPT] [--threads 1] [--rounds 200]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gspmc.paths import data_dir


def build_checkpoint(path: Path, profile: str, layout: str, window: int, classes: int) -> Path:
    """An untrained model of ``profile`` saved in the training checkpoint format."""
    from gspmc.inference.checkpoint import checkpoint_meta
    from gspmc.models import build_model, get_profile
    from gspmc.pose.layouts import get_layout
    from gspmc.pose.transforms import InputConfig
    from gspmc.train.config import Config, ModelSection, config_to_dict

    cfg = Config(input=InputConfig(layout=layout, window=window, stream="joint", normalize="shoulders"),
                 model=ModelSection(profile=profile))
    model_cfg = get_profile(profile)
    torch.manual_seed(0)
    model = build_model(model_cfg, classes, get_layout(layout)).eval()
    names = [f"class{i}" for i in range(classes)]
    meta = checkpoint_meta(config_to_dict(cfg), names, model_cfg, epoch=0)
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, "gspmc": meta}, path)
    return path


def real_input(input_cfg: object) -> tuple[np.ndarray, str]:
    """(1, C, T, V) from the AUTSL keypoints when available, else seeded random values."""
    pose = data_dir() / "videos/autsl_signer0_sample1000_holistic.pose"
    if pose.is_file():
        from gspmc.inference.predictor import model_input, normalized_coords
        from gspmc.video.posefile import read_pose

        coords, mask = normalized_coords(read_pose(pose))
        return model_input(coords, mask, "mediapipe-holistic-543", input_cfg)[None], "AUTSL keypoints"
    t, v = input_cfg.window, None
    from gspmc.pose.layouts import get_layout

    v = get_layout(input_cfg.layout).num_joints
    return np.random.default_rng(0).standard_normal((1, 3, t, v)).astype(np.float32), "random"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--profile", default="cpu-small")
    ap.add_argument("--layout", default="gspmc-55")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--classes", type=int, default=33)
    ap.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()

    from gspmc.apps.export import export_onnx, export_torchscript
    from gspmc.inference.checkpoint import load_recognizer
    from gspmc.inference.runners import OnnxRecognizer, TorchScriptRecognizer

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        ckpt = args.checkpoint or build_checkpoint(tmpdir / "m.ckpt", args.profile, args.layout, args.window,
                                                   args.classes)
        rec = load_recognizer(ckpt)
        ts = TorchScriptRecognizer(export_torchscript(rec, tmpdir / "m.pt"))
        ox = OnnxRecognizer(export_onnx(rec, tmpdir / "m.onnx"), threads=args.threads)
        x, source = real_input(rec.input_cfg)
        runners = {"torch eager": rec.logits, "TorchScript": ts.logits, "ONNX Runtime": ox.logits}
        ref = rec.logits(x)
        diffs = {name: float(np.abs(fn(x) - ref).max()) for name, fn in runners.items()}
        for fn in runners.values():  # warm-up
            for _ in range(10):
                fn(x)
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, fn in runners.items():
                t = time.perf_counter()
                fn(x)
                times[name].append((time.perf_counter() - t) * 1000)

    med = {name: statistics.median(v) for name, v in times.items()}
    what = f"checkpoint {ckpt.name}" if args.checkpoint else f"profile {args.profile}, untrained"
    print(f"# {datetime.date.today()}  {platform.processor() or platform.machine()}  torch {torch.__version__}  "
          f"threads {args.threads}  rounds {args.rounds}")
    print(f"# model: {what}; input (1, 3, {rec.input_cfg.window}, {rec.layout.num_joints}) from {source}")
    print("| runtime | median ms/clip (batch 1) | p90 ms | vs torch eager | max abs logit diff vs eager |")
    print("|---|---|---|---|---|")
    base = med["torch eager"]
    for name, v in times.items():
        p90 = float(np.percentile(v, 90))
        print(f"| {name} | {med[name]:.2f} | {p90:.2f} | {med[name] / base:.2f}x | {diffs[name]:.1e} |")


if __name__ == "__main__":
    main()
