"""Pose-extraction throughput: the process engine and the Ray engine (`gspmc extract --engine ray`) on the
shared videos, overall and per worker.

The shared videos (1 AUTSL + 4 WLASL clips) are copied ``--copies`` times into a temporary folder so each
engine has work for every worker (copies, not links: `find_videos` counts a file once however it is reached). Per worker: the frames it extracted over the seconds it spent in
``extract_one`` (from ``extract_report.json``: each file names the worker process that did it), so start-up
(Ray's, the MediaPipe graph's first load) is in the wall time but not in the per-worker rate.

    .venv/bin/python bench/bench_extract.py [--copies 4] [--engines process:1 process:2 ray:2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from gspmc.paths import data_dir
from gspmc.video.extract import REPORT_NAME, extract_many


def copy_videos(src: Path, dst: Path, copies: int) -> int:
    videos = sorted(p for p in src.iterdir() if p.suffix == ".mp4")
    for k in range(copies):
        (dst / f"c{k}").mkdir(parents=True, exist_ok=True)
        for v in videos:
            shutil.copyfile(v, dst / f"c{k}" / v.name)
    return copies * len(videos)


def run(engine: str, workers: int, videos: Path, out: Path) -> dict:
    start = time.perf_counter()
    report = extract_many([videos], out, workers=workers, engine=engine, progress=False)
    wall = time.perf_counter() - start
    files = json.loads((out / REPORT_NAME).read_text())["files"]
    per: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # frames, seconds, videos
    for f in files:
        if f["status"] == "ok":
            per[f["worker"]][0] += f["frames"]
            per[f["worker"]][1] += f["seconds"]
            per[f["worker"]][2] += 1
    frames = sum(v[0] for v in per.values())
    return {"engine": engine, "workers": workers, "counts": report.counts(), "wall_s": wall, "frames": frames,
            "videos_per_s": report.counts()["ok"] / wall, "frames_per_s": frames / wall,
            "per_worker": {w: {"videos": int(v[2]), "frames": int(v[0]), "busy_s": v[1],
                               "frames_per_s": v[0] / v[1] if v[1] else 0.0} for w, v in sorted(per.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--engines", nargs="+", default=["process:1", "process:2", "ray:2"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        videos = Path(tmp) / "videos"
        n = copy_videos(data_dir() / "videos", videos, args.copies)
        print(f"{n} videos; load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for spec in args.engines:
            engine, _, workers = spec.partition(":")
            r = run(engine, int(workers or 1), videos, Path(tmp) / f"out-{engine}-{workers}")
            results.append(r)
            rates = ", ".join(f"{v['frames_per_s']:.1f}" for v in r["per_worker"].values())
            print(f"{engine:8s} x{r['workers']}: {r['counts']['ok']} videos, {r['frames']:.0f} frames in "
                  f"{r['wall_s']:.1f} s wall = {r['videos_per_s']:.2f} videos/s, {r['frames_per_s']:.1f} frames/s; "
                  f"per worker (frames/s while extracting): {rates}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
