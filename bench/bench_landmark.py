"""Landmark Conv1D + Transformer encoder vs CTR-GCN cpu-small on CPU, in one process, as ratios (issue 20).

For each profile at one shape (default: the traduttore shape, gspmc-55, T=20, 33 classes):
parameters, forward GFLOPs per clip, one training step (forward + backward + SGD step) per batch of
``--batch`` clips, and eval-mode inference ms per clip at batch 1 and 64. The variants are timed in
alternation (a, b, c, a, b, c, ...) after a warm-up, so a change of the shared machine's load hits all
of them alike; the ratios to ``--baseline`` are what to compare across machines, not the absolute times.

    python bench/bench_landmark.py                                 # landmark-small, landmark vs cpu-small
    python bench/bench_landmark.py --layout sam-slr-27 --frames 20 --repeats 9
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _encoder_timing import infer_fn, interleaved_medians, machine_info, train_step_fn  # noqa: E402
from gspmc.models import build_model, count_parameters, flops_per_clip, get_profile  # noqa: E402
from gspmc.pose.layouts import get_layout  # noqa: E402

TRADUTTORE_TRAIN_CLIPS = 2900  # clips per training epoch on a traduttore fold (issue 20)


def make_input(n: int, t: int, v: int, gen: torch.Generator) -> torch.Tensor:
    """(N, 3, T, V) random x, y and a mask channel c = 1 (every joint seen: no padding)."""
    x = torch.randn(n, 3, t, v, generator=gen)
    x[:, -1] = 1.0
    return x


def time_all(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, interleaved (see module docstring)."""
    return interleaved_medians(fns, repeats, warmup=2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["cpu-small", "landmark-small", "landmark"])
    ap.add_argument("--baseline", default="cpu-small")
    ap.add_argument("--layout", default="gspmc-55")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--infer-batches", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--classes", type=int, default=33)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.baseline not in args.profiles:
        ap.error(f"--baseline {args.baseline} must be one of --profiles")
    torch.set_num_threads(args.threads)
    print(f"# {machine_info()}; command: {' '.join(sys.argv)}", flush=True)
    v, t = get_layout(args.layout).num_joints, args.frames
    gen = torch.Generator().manual_seed(0)
    x = make_input(args.batch, t, v, gen)
    y = torch.randint(0, args.classes, (args.batch,), generator=gen)
    xs = {b: make_input(b, t, v, gen) for b in args.infer_batches}

    models = {}
    rows: dict[str, dict] = {}
    for profile in args.profiles:
        torch.manual_seed(0)
        models[profile] = build_model(get_profile(profile), args.classes, args.layout)
        rows[profile] = {"profile": profile, "layout": args.layout, "V": v, "T": t,
                         "params": count_parameters(models[profile]),
                         "gflops_per_clip": flops_per_clip(models[profile], v, t) / 1e9}
    train = time_all({p: train_step_fn(m, x, y) for p, m in models.items()}, args.repeats)
    for p in models:
        rows[p]["train_ms_per_batch"] = 1e3 * train[p]
        rows[p]["train_s_per_epoch"] = train[p] * TRADUTTORE_TRAIN_CLIPS / args.batch
    for b in args.infer_batches:
        infer = time_all({p: infer_fn(m, xs[b]) for p, m in models.items()}, args.repeats)
        for p in models:
            rows[p][f"infer{b}_ms_per_clip"] = 1e3 * infer[p] / b
    base = rows[args.baseline]
    for r in rows.values():
        r["train_ratio"] = r["train_ms_per_batch"] / base["train_ms_per_batch"]
        for b in args.infer_batches:
            r[f"infer{b}_ratio"] = r[f"infer{b}_ms_per_clip"] / base[f"infer{b}_ms_per_clip"]
        print(json.dumps({k: round(val, 4) if isinstance(val, float) else val for k, val in r.items()}), flush=True)

    print()
    head = ["profile", "params", "GFLOPs/clip", f"train ms/batch (b{args.batch})", "train ratio"]
    head += [f"infer ms/clip b{b} (ratio)" for b in args.infer_batches]
    print(f"{args.layout} (V={v}), T={t}, {args.classes} classes, ratios to {args.baseline}, "
          f"{args.threads} thread(s), median of {args.repeats}")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows.values():
        cells = [r["profile"], f"{r['params'] / 1e6:.3f} M", f"{r['gflops_per_clip']:.3f}",
                 f"{r['train_ms_per_batch']:.1f}", f"{r['train_ratio']:.3f}"]
        cells += [f"{r[f'infer{b}_ms_per_clip']:.2f} ({r[f'infer{b}_ratio']:.3f})" for b in args.infer_batches]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
