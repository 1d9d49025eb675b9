"""One prepared device check for the skeleton encoder (issue 6.2, GPU part), runnable on CPU for a dry run.

What it does, in one process:
 1. correctness on the device: fast vs reference CTR-GCN (same weights), float32, small batch:
    max relative difference of logits and of all parameter gradients;
 2. training throughput (clips/s; forward + backward + SGD step) of the `full` profile at the SLR500
    recipe shape (87 joints, T=64, batch 120) with bf16 autocast, fast vs reference (and fast +
    torch.compile with --compile);
 3. peak device memory per variant (CUDA only).
Target on one H100/H200: >= 1,400 clips/s (the 110-epoch SLR500 recipe in < 2 h per stream).

    python bench/gpu_check.py                             # on a GPU machine (default --device cuda)
    python bench/gpu_check.py --compile                   # also time torch.compile(fast)
    python bench/gpu_check.py --device cpu --iters 1 --batch 4 --no-reference   # CPU dry run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _encoder_timing import machine_info  # noqa: E402
from gspmc.models import build_model, get_profile  # noqa: E402


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def correctness(device: torch.device, layout: str, frames: int) -> dict:
    """fp32 fast vs reference on the device: logits and all gradients (relative max error)."""
    torch.manual_seed(0)
    fast = build_model(get_profile("full"), 100, layout).to(device)
    ref = build_model(get_profile("full", ctrgc="reference"), 100, layout).to(device)
    with torch.no_grad():
        for m in fast.modules():
            if hasattr(m, "alpha"):
                m.alpha.fill_(0.5)  # alpha = 0 at init would hide the refinement path
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(4, 3, frames, fast.num_joints, device=device)
    out = {}
    logits = []
    for model in (fast, ref):
        y = model(x)
        y.square().sum().backward()
        logits.append(y.detach())
    out["logits_rel_err"] = _rel(logits[0], logits[1])
    # one relative error over all gradients together (single tiny gradients are rounding noise)
    gf = torch.cat([p.grad.flatten() for p in fast.parameters()])
    gr = torch.cat([p.grad.flatten() for p in ref.parameters()])
    out["grad_rel_err_norm"] = float((gf - gr).norm() / gr.norm())
    return out


def throughput(
    model: torch.nn.Module, device: torch.device, batch: int, frames: int, iters: int, bf16: bool
) -> dict:
    """clips/s of forward + backward + SGD step under bf16 autocast (median of `iters` timed steps)."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    v = model.num_joints if hasattr(model, "num_joints") else model._orig_mod.num_joints
    x = torch.randn(batch, 3, frames, v, device=device)
    y = torch.randint(0, 100, (batch,), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(3):  # warm-up (and compilation)
        step()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    res = {"step_s": med, "clips_per_s": batch / med}
    if device.type == "cuda":
        res["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--layout", default="gspmc-87")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=120)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--no-bf16", action="store_true")
    ap.add_argument("--no-reference", action="store_true", help="skip the (slow) reference timing")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(fast model)")
    ap.add_argument("--threads", type=int, default=1, help="CPU only: intra-op threads")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print("no CUDA device: run with --device cpu for a dry run", file=sys.stderr)
            return 2
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        print(f"# device {torch.cuda.get_device_name(device)}; torch {torch.__version__}", flush=True)
    else:
        torch.set_num_threads(args.threads)
        print(f"# {machine_info()}", flush=True)
    print(f"# command: {' '.join(sys.argv)}", flush=True)
    report: dict = {"correctness_fp32": correctness(device, args.layout, min(args.frames, 16))}
    print(json.dumps(report), flush=True)
    variants = (
        ["fast"] + ([] if args.no_reference else ["reference"]) + (["fast+compile"] if args.compile else [])
    )
    for name in variants:
        torch.manual_seed(0)
        cfg = get_profile("full", ctrgc="reference" if name == "reference" else "fast")
        model: torch.nn.Module = build_model(dataclasses.replace(cfg), 100, args.layout).to(device)
        if name.endswith("+compile"):
            model = torch.compile(model)
        try:
            report[name] = throughput(model, device, args.batch, args.frames, args.iters, not args.no_bf16)
        except torch.OutOfMemoryError as err:  # the reference stores (N, C, V, V) maps per subset
            report[name] = {"error": f"out of memory: {err}".splitlines()[0]}
        except Exception as err:  # noqa: BLE001 - e.g. a torch.compile failure: report it, keep going
            report[name] = {"error": f"{type(err).__name__}: {err}".splitlines()[0][:500]}
        print(json.dumps({name: report[name]}), flush=True)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if "fast" in report and "reference" in report and "clips_per_s" in report.get("reference", {}):
        report["speedup_fast_over_reference"] = (
            report["fast"]["clips_per_s"] / report["reference"]["clips_per_s"]
        )
    print(json.dumps(report, indent=1))
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
