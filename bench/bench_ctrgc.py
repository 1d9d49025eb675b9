"""Fast vs reference CTR-GC inside the full CTR-GCN: training step and inference, ratios in one process.

Issue 6.2. For each (V, T): both models get identical weights; the reference (direct formulation) and
the fast kernel are timed in alternation in this process (warm-up, then the median of repeats), so the
ratio is robust to the load other jobs put on a shared machine. Absolute times are not.

    python bench/bench_ctrgc.py --quick            # V in {27, 75, 87}, T=20
    python bench/bench_ctrgc.py                    # V in {27, 75, 87, 133}, T in {20, 64} (slow)
    python bench/bench_ctrgc.py --threads 2 --json out.json
    python bench/bench_ctrgc.py --quick --precisions fp32 bf16   # + bf16 autocast, ratios vs the fp32 reference
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _encoder_timing import infer_fn, interleaved_medians, machine_info, make_model, train_step_fn  # noqa: E402
from gspmc.models import get_profile  # noqa: E402

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def _variant(impl: str, prec: str) -> str:
    """Result-key suffix of one (implementation, precision): "fast", "reference", "fast_bf16", ..."""
    return impl if prec == "fp32" else f"{impl}_{prec}"


def bench_case(v: int, t: int, batch: int, infer_batches: list[int], repeats: int, impls: list[str],
               precisions: list[str] = ("fp32",), profile: str = "full") -> dict:
    """Times for one (V, T): train step at ``batch`` and inference at each of ``infer_batches``, for every
    implementation x precision (bf16 = autocast mixed precision, weights float32)."""
    cfg = get_profile(profile)
    models = {impl: make_model(dataclasses.replace(cfg, ctrgc=impl), v) for impl in impls}
    if "reference" in models and "fast" in models:
        models["reference"].load_state_dict(models["fast"].state_dict())
    variants = {_variant(i, p): (models[i], PRECISIONS[p]) for i in impls for p in precisions}
    gen = torch.Generator().manual_seed(0)
    row: dict = {"V": v, "T": t, "train_batch": batch}
    x = torch.randn(batch, 3, t, v, generator=gen)
    y = torch.randint(0, 100, (batch,), generator=gen)
    times = interleaved_medians({k: train_step_fn(m, x, y, dt) for k, (m, dt) in variants.items()}, repeats)
    for k, sec in times.items():
        row[f"train_s_{k}"] = sec
    for b in infer_batches:
        xb = torch.randn(b, 3, t, v, generator=gen)
        times = interleaved_medians({k: infer_fn(m, xb, dt) for k, (m, dt) in variants.items()}, repeats)
        for k, sec in times.items():
            row[f"infer{b}_ms_per_clip_{k}"] = 1e3 * sec / b
    if "reference" in models:
        for k in variants:
            if k == "reference":
                continue
            row[f"train_ratio_ref_over_{k}"] = row["train_s_reference"] / row[f"train_s_{k}"]
            for b in infer_batches:
                row[f"infer{b}_ratio_ref_over_{k}"] = (
                    row[f"infer{b}_ms_per_clip_reference"] / row[f"infer{b}_ms_per_clip_{k}"]
                )
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="V in {27, 75, 87}, T=20 only")
    ap.add_argument("--joints", type=int, nargs="+", default=None, help="V values (default 27 75 87 133)")
    ap.add_argument("--frames", type=int, nargs="+", default=None, help="T values (default 20 64)")
    ap.add_argument("--batch", type=int, default=32, help="training batch")
    ap.add_argument("--infer-batches", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (1: see docs/benchmarks.md)")
    ap.add_argument("--impls", nargs="+", default=["reference", "fast"], choices=["reference", "fast"])
    ap.add_argument("--profile", default="full", help="model profile (full = paper size, cpu-small)")
    ap.add_argument("--precisions", nargs="+", default=["fp32"], choices=sorted(PRECISIONS),
                    help="fp32 and/or bf16 (autocast mixed precision; fast on CPUs with AVX512-BF16 / AMX)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    joints = args.joints or ([27, 75, 87] if args.quick else [27, 75, 87, 133])
    frames = args.frames or ([20] if args.quick else [20, 64])
    print(f"# {machine_info()}; command: {' '.join(sys.argv)}", flush=True)
    rows = []
    for t in frames:
        for v in joints:
            row = bench_case(v, t, args.batch, args.infer_batches, args.repeats, args.impls, args.precisions, args.profile)
            rows.append(row)
            print(
                json.dumps({k: round(x, 4) if isinstance(x, float) else x for k, x in row.items()}),
                flush=True,
            )
    # markdown table: one line per (V, T, variant), ratios against the fp32 reference of the same row
    print()
    ib = args.infer_batches
    variants = [_variant(i, p) for i in args.impls for p in args.precisions]
    head = ["V", "T", "variant", f"train b{args.batch} s", "ref/variant"]
    for b in ib:
        head += [f"infer b{b} ms/clip", "ref/variant"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    nan = float("nan")
    for r in rows:
        for k in variants:
            ratio = r.get(f"train_ratio_ref_over_{k}", 1.0 if k == "reference" else nan)
            cells = [str(r["V"]), str(r["T"]), k, f"{r[f'train_s_{k}']:.2f}", f"{ratio:.1f}x"]
            for b in ib:
                ratio_b = r.get(f"infer{b}_ratio_ref_over_{k}", 1.0 if k == "reference" else nan)
                cells += [f"{r[f'infer{b}_ms_per_clip_{k}']:.1f}", f"{ratio_b:.1f}x"]
            print("| " + " | ".join(cells) + " |")
    for k in variants:
        by_t: dict[int, dict[int, float]] = {}
        for r in rows:
            by_t.setdefault(r["T"], {})[r["V"]] = r[f"train_s_{k}"]
        for t, d in by_t.items():
            for v in sorted(d):
                if 27 in d and v != 27:
                    print(f"{k} train step, T={t}: V={v} costs {d[v] / d[27]:.2f}x V=27")
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
