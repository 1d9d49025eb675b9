"""CLI commands of the apps: ``predict``, ``export``, ``live`` (docs/video.md), ``transcribe`` (docs/transcribe.md),
``studio`` (docs/studio.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict``, ``export``, ``live`` and ``transcribe`` to the ``gspmc`` parser."""
    p = subparsers.add_parser("predict", help="top-k glosses for a video, a keypoint file or a folder of them",
                              description="Several --checkpoint are fused by the weighted average of their "
                              "softmax probabilities. A checkpoint may be a training .ckpt, an exported .onnx or "
                              "an exported TorchScript .pt.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video, .pose / .npz keypoint file, or a folder")
    p.add_argument("--checkpoint", "-c", action="append", required=True, type=Path, dest="checkpoints",
                   help="model file (repeat to fuse several, e.g. the four streams)")
    p.add_argument("--weights", type=float, nargs="+", help="fusion weight per --checkpoint (default 1 each)")
    p.add_argument("--top-k", "-k", type=int, default=5, help="how many glosses to show (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--units", choices=("normalized", "pixels"), default="normalized",
                   help="keypoint units fed to the model: MediaPipe's normalised image coordinates (default; "
                   "MP_Data / traduttore training data) or pixels (models trained on .pose files)")
    p.set_defaults(func=run_predict)

    p = subparsers.add_parser("export", help="export a checkpoint's recognition path to ONNX or TorchScript")
    p.add_argument("checkpoint", type=Path, help="training checkpoint (.ckpt)")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    p.add_argument("--out", type=Path, help="output file (default: the checkpoint path with .onnx / .pt)")
    p.add_argument("--embedding", action="store_true",
                   help="also output the clip's text-space embedding (GSP-MC checkpoints; docs/open-vocabulary.md)")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser("live", help="live recognition from a webcam or a video file (sliding window)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", type=Path, help="video file played as a stream")
    src.add_argument("--camera", type=int, default=None, help="camera index (default 0 when no --video)")
    p.add_argument("--checkpoint", "-c", action="append", required=True, type=Path, dest="checkpoints")
    p.add_argument("--weights", type=float, nargs="+")
    p.add_argument("--window", type=int, help="frames in the sliding window (default: the model's input window)")
    p.add_argument("--stride", type=int, default=5, help="classify every N frames (default 5)")
    p.add_argument("--min-prob", type=float, default=0.0, help="report predictions at or above this probability")
    p.add_argument("--max-frames", type=int, help="stop after N frames")
    p.add_argument("--headless", action="store_true", help="print predictions instead of opening a window")
    p.add_argument("--units", choices=("normalized", "pixels"), default="normalized", help="as for predict")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for the model (default 1: MediaPipe needs the other cores; "
                   "more threads contend with it and were 10x slower on 2 busy cores)")
    p.add_argument("--transcribe", action="store_true",
                   help="spot signs: draw the running transcript, emit each sign once when it is over "
                   "(docs/transcribe.md); the spotter scores a window every --spot-stride frames")
    _spot_args(p)
    p.set_defaults(func=run_live)

    p = subparsers.add_parser("transcribe", help="signs with start/end times in a continuous video or keypoint file",
                              description="Spot signs in continuous input (docs/transcribe.md): a table on stdout, "
                              "and per input <stem>.json, <stem>.srt and <stem>.eaf (ELAN) under --out.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video, .pose / .npz keypoint file, or a folder")
    p.add_argument("--checkpoint", "-c", action="append", required=True, type=Path, dest="checkpoints",
                   help="model file (repeat to fuse several)")
    p.add_argument("--weights", type=float, nargs="+", help="fusion weight per --checkpoint (default 1 each)")
    p.add_argument("--out", type=Path, default=Path("transcripts"), help="output folder (default transcripts/)")
    p.add_argument("--units", choices=("normalized", "pixels"), default="normalized", help="as for predict")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1; MediaPipe needs the others)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _spot_args(p)
    p.set_defaults(func=run_transcribe)

    p = subparsers.add_parser("studio", help="local web app: record, train, enrol and recognise signs (docs/studio.md)")
    p.add_argument("folder", nargs="?", type=Path, default=Path("."), help="project folder (default: here)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="largest request body in MB (default 200)")
    p.add_argument("--allow-remote", action="store_true",
                   help="needed to bind to an interface other than loopback (anyone who reaches it can use the studio)")
    p.set_defaults(func=run_studio)


def run_studio(args: argparse.Namespace) -> int:
    from gspmc.apps.studio.server import is_loopback, serve
    from gspmc.errors import ConfigError

    if not is_loopback(args.host):
        if not args.allow_remote:
            raise ConfigError(f"--host {args.host} would let other machines use the studio; add --allow-remote "
                              "if that is what you want")
        print(f"studio: WARNING: listening on {args.host}: anyone who can reach this port can read and change "
              f"{args.folder}", file=sys.stderr)
    if args.max_upload_mb <= 0:
        raise ConfigError("--max-upload-mb must be > 0")
    print(f"studio: http://{args.host}:{args.port}/ on {args.folder.resolve()} (Ctrl-C stops it)", file=sys.stderr)
    serve(args.folder, args.host, args.port, args.max_upload_mb)
    return 0


def _spot_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spot-config", type=Path,
                   help="JSON of spotting thresholds (SpotConfig fields, or {'chosen': {...}} as "
                   "bench/transcribe_eval.py writes); fields not given keep the shipped operating point "
                   "(live: low delay; transcribe: best F1; docs/transcribe.md)")
    p.add_argument("--spot-stride", type=int, help="score a window every N frames (default 2)")


def spot_config(args: argparse.Namespace, live: bool = False):  # -> SpotConfig
    """--spot-config / --spot-stride, else the shipped operating point (LIVE_SPOT for live, FILES_SPOT)."""
    from dataclasses import asdict

    from gspmc.apps.spotting import FILES_SPOT, LIVE_SPOT, SpotConfig
    from gspmc.errors import ConfigError

    fields = asdict(LIVE_SPOT if live else FILES_SPOT)
    if getattr(args, "spot_config", None) is not None:
        try:
            data = json.loads(Path(args.spot_config).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"--spot-config {args.spot_config}: {e}") from None
        data = data.get("chosen", data)
        known = set(SpotConfig.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"--spot-config: unknown field(s) {unknown}; known: {sorted(known)}")
        fields.update(data)
    if getattr(args, "spot_stride", None):
        fields["stride"] = args.spot_stride
    return SpotConfig(**fields)


def run_predict(args: argparse.Namespace) -> int:
    from gspmc.apps.predict import format_table, predict_files
    from gspmc.inference.predictor import Predictor, find_inputs

    predictor = Predictor.from_files(args.checkpoints, args.weights, args.units)
    paths = find_inputs(args.inputs)
    results, errors = predict_files(predictor, paths, k=args.top_k, progress=not args.json)
    if args.json:
        out = {"checkpoints": [str(c) for c in args.checkpoints],
               "weights": [float(w) for w in predictor.weights],
               "predictions": [r.to_json() for r in results], "errors": errors}
        print(json.dumps(out, indent=2))
    else:
        if results:
            print(format_table(results))
        for e in errors:
            print(f"failed: {e['error']}", file=sys.stderr)
    return 1 if errors else 0


def run_export(args: argparse.Namespace) -> int:
    from gspmc.apps.export import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.format, args.out, embedding=args.embedding)
    print(f"export: wrote {path}")
    return 0


def run_live(args: argparse.Namespace) -> int:
    from gspmc.apps.live import run_live as loop
    from gspmc.inference.predictor import Predictor

    if args.threads is not None and args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    predictor = Predictor.from_files(args.checkpoints, args.weights, args.units)
    stats = loop(predictor, video=args.video, camera=args.camera, window=args.window, stride=args.stride,
                 headless=args.headless, max_frames=args.max_frames, min_prob=args.min_prob,
                 transcribe=args.transcribe, spot=spot_config(args, live=True) if args.transcribe else None)
    signs = f", {len(stats.signs)} signs" if args.transcribe else ""
    print(f"live: {stats.frames} frames, {stats.predictions} predictions{signs}, {stats.seconds:.1f} s, "
          f"{stats.fps:.1f} frames/s end to end", file=sys.stderr)
    return 0


def run_transcribe(args: argparse.Namespace) -> int:
    from gspmc.apps.transcribe import VIDEO_EXTENSIONS, format_table, transcribe_file, write_outputs
    from gspmc.errors import GspmcError
    from gspmc.inference.predictor import Predictor, find_inputs

    if args.threads is not None and args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    cfg = spot_config(args)
    predictor = Predictor.from_files(args.checkpoints, args.weights, args.units)
    paths = find_inputs(args.inputs)
    runner = None
    failed = 0
    try:
        for path in paths:
            is_video = path.suffix.lower() in VIDEO_EXTENSIONS
            if is_video and runner is None:
                from gspmc.video.holistic import HolisticRunner

                runner = HolisticRunner()
            try:
                tr = transcribe_file(predictor, path, cfg, runner, args.units, progress=not args.no_progress)
            except GspmcError as e:
                failed += 1
                print(f"failed: {e}", file=sys.stderr)
                continue
            print(format_table(tr))
            written = write_outputs(tr, args.out, path.stem, media=path if is_video else None)
            print(f"  wrote {', '.join(str(p) for p in written)}")
    finally:
        if runner is not None:
            runner.close()
    return 1 if failed else 0
