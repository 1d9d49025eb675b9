"""Benchmark: end-to-end frames per second of ``gspmc live --headless`` on a video file.

Reference, in the same process on the same frames: decoding + MediaPipe Holistic alone (what no
recogniser can beat). Then the live loop (decoding + MediaPipe + sliding window + model every
``--stride`` frames). Wall-clock frames/s is what a user sees; process CPU time per frame (all
threads) is reported too, being far less sensitive to other jobs on a shared machine. Passes alternate (reference, live, reference, live, ...) so load from other
jobs on a shared machine hits both alike; the best pass of each is reported.

    .venv/bin/python bench/bench_live.py [--video FILE] [--checkpoint CKPT] [--stride 5] [--passes 2]

Without ``--checkpoint`` an untrained ``cpu-small`` model (gspmc-55, window 20: the demo model's
size) is built; speed does not depend on the weight values.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from gspmc.paths import data_dir


def mediapipe_only(video: Path) -> tuple[int, float]:
    """(frames, wall seconds) for decoding + Holistic on every frame."""
    from gspmc.video.holistic import HolisticRunner, iter_frames, open_video

    cap, _, _, _ = open_video(video)
    n = 0
    start = time.perf_counter()
    with HolisticRunner() as runner:
        for frame in iter_frames(cap):
            runner.process_bgr(frame)
            n += 1
    return n, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=data_dir() / "videos/wlasl_00336.mp4")
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--stride", type=int, default=5)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (gspmc live's default: 1)")
    args = ap.parse_args()

    from gspmc.apps.live import run_live
    from gspmc.inference.predictor import Predictor

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint
        if ckpt is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_export import build_checkpoint

            ckpt = build_checkpoint(Path(tmp) / "m.ckpt", "cpu-small", "gspmc-55", 20, 33)
        predictor = Predictor.from_files([ckpt])
        ref_fps, live_fps, preds = 0.0, 0.0, 0
        ref_cpu, live_cpu = float("inf"), float("inf")  # process CPU ms per frame (all threads)
        for _ in range(args.passes):
            c0 = time.process_time()
            n, s = mediapipe_only(args.video)
            ref_cpu = min(ref_cpu, (time.process_time() - c0) * 1000 / n)
            ref_fps = max(ref_fps, n / s)
            c0 = time.process_time()
            stats = run_live(predictor, video=args.video, stride=args.stride, headless=True, emit=lambda _: None)
            live_cpu = min(live_cpu, (time.process_time() - c0) * 1000 / stats.frames)
            live_fps = max(live_fps, stats.fps)
            preds = stats.predictions
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    what = ckpt.name if args.checkpoint else "untrained cpu-small (gspmc-55, window 20)"
    print(f"# {datetime.date.today()}  {platform.machine()}  {os.cpu_count()} cores  load avg {load:.1f}  "
          f"torch threads {args.threads}")
    print(f"# video {args.video.name} ({n} frames), model {what}, stride {args.stride} ({preds} predictions/pass)")
    print("| chain | frames/s wall (best pass) | CPU ms/frame (all threads) | CPU cost vs MediaPipe alone |")
    print("|---|---|---|---|")
    print(f"| decode + MediaPipe Holistic (reference) | {ref_fps:.1f} | {ref_cpu:.1f} | 1.00x |")
    print(f"| gspmc live --headless (decode + MediaPipe + window + model) | {live_fps:.1f} | {live_cpu:.1f} | "
          f"{live_cpu / ref_cpu:.2f}x |")


if __name__ == "__main__":
    main()
