"""Skeleton-encoder throughput and latency on CPU for the shapes gspmc trains on (issue 2.9).

Training throughput (clips/s: forward + backward + SGD step at batch 32) and inference latency (ms per
clip, eval mode, no autograd, batch 1 and 64) for the `cpu-small` and `full` profiles at
  - the traduttore shape: T=20, V=55 (gspmc-55) and V=27 (sam-slr-27),
  - an SLR500-like shape: T=64, V=87 (gspmc-87),
using the real layouts' graphs (gspmc.pose). Warm-up, then the median of repeats, in one process.

    python bench/bench_model.py                     # all shapes, both profiles
    python bench/bench_model.py --profiles cpu-small --shapes 55x20
    python bench/bench_model.py --precision bf16    # autocast bf16 (CPUs with AVX512-BF16 / AMX)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _encoder_timing import infer_fn, machine_info, median_time, train_step_fn  # noqa: E402
from gspmc.models import build_model, count_parameters, flops_per_clip, get_profile  # noqa: E402

LAYOUTS = {55: "gspmc-55", 27: "sam-slr-27", 87: "gspmc-87"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["cpu-small", "full"])
    ap.add_argument("--shapes", nargs="+", default=["55x20", "27x20", "87x64"], help="VxT")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--infer-batches", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--classes", type=int, default=33)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                    help="bf16: autocast mixed precision (what `trainer.precision: auto` picks on CPUs with AVX512-BF16)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.precision == "bf16" else None
    print(f"# {machine_info()}; command: {' '.join(sys.argv)}", flush=True)
    rows = []
    gen = torch.Generator().manual_seed(0)
    for shape in args.shapes:
        v, t = (int(s) for s in shape.split("x"))
        for profile in args.profiles:
            torch.manual_seed(0)
            model = build_model(get_profile(profile), args.classes, LAYOUTS[v])
            row = {
                "profile": profile,
                "V": v,
                "T": t,
                "layout": LAYOUTS[v],
                "precision": args.precision,
                "params": count_parameters(model),
                "gflops_per_clip": flops_per_clip(model, v, t) / 1e9,
            }
            x = torch.randn(args.batch, 3, t, v, generator=gen)
            y = torch.randint(0, args.classes, (args.batch,), generator=gen)
            row["train_clips_per_s"] = args.batch / median_time(train_step_fn(model, x, y, dtype), args.repeats)
            for b in args.infer_batches:
                xb = torch.randn(b, 3, t, v, generator=gen)
                row[f"infer{b}_ms_per_clip"] = 1e3 * median_time(infer_fn(model, xb, dtype), args.repeats) / b
            rows.append(row)
            print(
                json.dumps({k: round(x, 3) if isinstance(x, float) else x for k, x in row.items()}),
                flush=True,
            )
    print()
    head = ["profile", "precision", "layout (V)", "T", "params", "GFLOPs/clip", f"train clips/s (b{args.batch})"]
    head += [f"infer ms/clip b{b}" for b in args.infer_batches]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["profile"], r["precision"], f"{r['layout']} ({r['V']})", str(r["T"]), f"{r['params'] / 1e6:.2f} M"]
        cells += [f"{r['gflops_per_clip']:.2f}", f"{r['train_clips_per_s']:.1f}"]
        cells += [f"{r[f'infer{b}_ms_per_clip']:.1f}" for b in args.infer_batches]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
