"""CLI command of gspmc.video: ``extract`` (see docs/video.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``extract`` to the ``gspmc`` parser."""
    p = subparsers.add_parser("extract", help="video(s) -> MediaPipe Holistic keypoint files (.pose / .npz)",
                              description="Run MediaPipe Holistic on videos; one keypoint file per video. "
                              "Existing outputs are skipped (resume); OUT/extract_report.json lists each video.")
    p.add_argument("inputs", nargs="+", metavar="VIDEO|DIR", help="video files and/or folders (searched recursively)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--format", choices=("pose", "npz"), default="pose", help="pose-format .pose (default) or our .npz")
    p.add_argument("--workers", type=int, default=1, help="worker processes, one MediaPipe graph each (default 1)")
    p.add_argument("--engine", choices=("process", "ray"), default="process",
                   help="process: local worker processes (default); ray: the same per-video function as Ray "
                   "tasks, on a local Ray instance of --workers CPUs or on the cluster at --address")
    p.add_argument("--address", help="Ray cluster address (ray://HOST:10001, or auto); needs --engine ray; inputs "
                   "and --out must be on a file system every node sees")
    p.add_argument("--overwrite", action="store_true", help="re-extract videos whose output exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    from gspmc.video.extract import REPORT_NAME, extract_many

    report = extract_many(args.inputs, args.out, fmt=args.format, workers=args.workers,
                          progress=not args.no_progress, overwrite=args.overwrite, engine=args.engine,
                          address=args.address)
    counts = report.counts()
    print(f"extract: {counts['ok']} extracted, {counts['skipped']} skipped (already done), "
          f"{counts['error']} failed; report: {Path(args.out) / REPORT_NAME}")
    for r in report.results:
        if r.status == "error":
            print(f"  failed: {r.error}", file=sys.stderr)
    return 1 if counts["error"] else 0
