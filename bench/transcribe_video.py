"""``gspmc transcribe`` on a real video, timed: MediaPipe Holistic is the cost (docs/transcribe.md).

    .venv/bin/python bench/transcribe_video.py VIDEO -c runs/transcribe/TheCamNelson/best.ckpt \\
        [--repeat 3] [--max-frames N] [--spot-config docs/transcribe_results.json]

``--repeat N`` plays the video N times back to back (one stream: a longer input from a short clip) so
the peak resident memory after 1 and after N plays can be compared: the transcriber keeps a bounded
window, so memory should not grow with the number of plays. Prints frames, seconds, frames per second
end to end, the signs found and the peak RSS (MiB) per play. For a real 10-minute video expect about
10 minutes (MediaPipe runs at ~25-45 frames/s on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import torch

from gspmc.apps.spotting import SpotConfig
from gspmc.apps.transcribe import FrameSource, format_table, transcribe_source, video_source
from gspmc.inference.predictor import Predictor
from gspmc.video.holistic import HolisticRunner, open_video


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--checkpoint", "-c", action="append", required=True, type=Path, dest="checkpoints")
    ap.add_argument("--repeat", type=int, default=1, help="play the video N times as one stream")
    ap.add_argument("--max-frames", type=int, help="stop after N frames")
    ap.add_argument("--spot-config", type=Path, help="JSON with SpotConfig fields (or a 'chosen' block per fold)")
    ap.add_argument("--fold", default="TheCamNelson", help="which fold's 'chosen' block of --spot-config")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = SpotConfig()
    if args.spot_config is not None:
        data = json.loads(args.spot_config.read_text())
        data = data.get("folds", {}).get(args.fold, data).get("chosen", data)
        cfg = SpotConfig(**data)
    predictor = Predictor.from_files(args.checkpoints)
    rss: list[float] = []
    with HolisticRunner() as runner:
        def plays():
            for _ in range(args.repeat):
                src = video_source(args.video, runner)
                yield from src.frames
                rss.append(peak_rss_mib())

        cap, fps, _, _ = open_video(args.video)
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) * args.repeat or None
        cap.release()
        frames = itertools.islice(plays(), args.max_frames) if args.max_frames else plays()
        start = time.perf_counter()
        tr = transcribe_source(predictor, FrameSource(frames, fps, total), str(args.video), cfg, progress=True)
        seconds = time.perf_counter() - start
    print(format_table(tr))
    print(f"{tr.frames} frames in {seconds:.1f} s: {tr.frames / seconds:.1f} frames/s end to end "
          f"(MediaPipe + model, 1 torch thread); peak RSS after each play (MiB): "
          f"{', '.join(f'{r:.0f}' for r in rss)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
