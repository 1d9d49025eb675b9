"""Shared timing helpers for the skeleton-encoder benchmarks (bench_ctrgc.py, bench_model.py, gpu_check.py)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np
import torch

from gspmc.models import CTRGCN, ModelConfig


def chain_adjacency(v: int) -> np.ndarray:
    """(3, V, V) identity / inward / outward partitions of a chain of V joints (degree-normalised).

    Used where no keypoint layout has V joints (75, 133): the CTR-GC cost does not depend on the edges.
    """
    a = np.zeros((3, v, v), dtype=np.float32)
    a[0] = np.eye(v)
    for i in range(1, v):
        a[1, i, i - 1] = 1.0
        a[2, i - 1, i] = 1.0
    return a


def make_model(cfg: ModelConfig, v: int, num_classes: int = 100, seed: int = 0) -> CTRGCN:
    """A CTR-GCN on a chain graph of V joints (5 equal parts), deterministic weights."""
    torch.manual_seed(seed)
    parts = np.array_split(np.arange(v), 5 if v >= 5 else 1)
    return CTRGCN(cfg, num_classes, chain_adjacency(v), parts)


def median_time(
    fn: Callable[[], object], repeats: int, warmup: int = 1, sync: Callable[[], None] | None = None
) -> float:
    """Median wall time of ``fn`` in seconds over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1, sync: Callable[[], None] | None = None
) -> dict[str, float]:
    """Median wall time (s) of each function, timed in alternation (a, b, a, b, ...) after warm-up,
    so a change in the machine's load during the run hits every variant alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if sync:
                sync()
            t0 = time.perf_counter()
            fn()
            if sync:
                sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _autocast(device: str, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``dtype`` on ``device``, or a disabled autocast when ``dtype`` is None."""
    return torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None)


def train_step_fn(
    model: CTRGCN, x: torch.Tensor, y: torch.Tensor, autocast_dtype: torch.dtype | None = None
) -> Callable[[], None]:
    """One forward + backward + SGD (Nesterov) step on a fixed batch; forward under autocast to
    ``autocast_dtype`` (mixed precision, weights stay float32) when given."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    model.train()
    device = x.device.type

    def step() -> None:
        with _autocast(device, autocast_dtype):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def infer_fn(model: CTRGCN, x: torch.Tensor, autocast_dtype: torch.dtype | None = None) -> Callable[[], None]:
    """One eval-mode forward pass without autograd (under autocast to ``autocast_dtype`` when given)."""
    model.eval()
    device = x.device.type

    def run() -> None:
        with torch.inference_mode(), _autocast(device, autocast_dtype):
            model(x)

    return run


def machine_info() -> str:
    """One line: CPU model, nproc, torch version and threads used (what docs/benchmarks.md records)."""
    cpu = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return (
        f"CPU {cpu}, nproc {os.cpu_count()}, torch {torch.__version__}, "
        f"intra-op threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}"
    )
