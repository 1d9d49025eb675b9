"""Benchmark: one training step with cross-entropy only vs with the full GSP-MC objective (Eq. 12).

Same model, same batch, same process; the two steps alternate and the median of each is
reported with the ratio full / CE (issue 4 target: <= 1.10). A step = encode + classify + loss +
backward + SGD update. The text bank is synthetic but of realistic size (per class: 2 global,
3 synonym and 1-3 texts per description part, 384-d as MiniLM) unless ``--store`` names a real
description store (then its embedding cache is used / built with ``--encoder``).

    .venv/bin/python bench/mc_step_cost.py [--profile cpu-small] [--layout gspmc-55] [--batch 32]
        [--window 20] [--classes 33] [--steps 20] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from gspmc.losses import GSPMCObjective
from gspmc.models import build_model, get_profile
from gspmc.pose.layouts import get_layout
from gspmc.text.bank import KindBank, TextBank, load_text_bank
from gspmc.text.descriptions import DESCRIPTION_PARTS


def synthetic_bank(num_classes: int, dim: int, rng: np.random.Generator) -> TextBank:
    """Random unit vectors, per class: 2 global, 3 synonym, 1-3 texts per part."""
    sizes = {"global": lambda: 2, "synonym": lambda: 3, **{p: lambda: int(rng.integers(1, 4)) for p in DESCRIPTION_PARTS}}
    kinds = {}
    for kind, size in sizes.items():
        labels = np.concatenate([np.full(size(), c) for c in range(num_classes)]).astype(np.int64)  # (M,)
        emb = rng.standard_normal((labels.size, dim)).astype(np.float32)  # (M, d)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        kinds[kind] = KindBank(emb, labels, tuple(f"{kind}-{i}" for i in range(labels.size)))
    return TextBank(tuple(f"c{i}" for i in range(num_classes)), "synthetic", dim, DESCRIPTION_PARTS, kinds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu-small")
    ap.add_argument("--layout", default="gspmc-55")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--classes", type=int, default=33)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--store", default=None, help="real description store (classes = its glosses)")
    ap.add_argument("--encoder", default="minilm")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)

    layout = get_layout(args.layout)
    cfg = get_profile(args.profile)
    if args.store:
        from gspmc.text.descriptions import read_store_texts

        classes = list(read_store_texts(args.store).texts)
        bank = load_text_bank(args.store, classes, args.encoder)
    else:
        bank = synthetic_bank(args.classes, 384, np.random.default_rng(0))
    k = len(bank.classes)
    model = build_model(cfg, num_classes=k, layout=layout).to(dev)
    objective = GSPMCObjective(bank, cfg.feature_dim, list(layout.parts)).to(dev)
    opt = torch.optim.SGD(list(model.parameters()) + list(objective.parameters()), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, 3, args.window, layout.num_joints, device=dev)  # (N, C, T, V)
    y = torch.randint(0, k, (args.batch,), device=dev)

    def step(with_mc: bool) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        feats = model.encode(x)
        ce = F.cross_entropy(model.classify(feats.global_), y)
        loss = objective.total(ce, objective(feats, y)) if with_mc else ce
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    for _ in range(3):  # warm-up
        step(False)
        step(True)
    ce_times, mc_times = [], []
    for _ in range(args.steps):
        ce_times.append(step(False))
        mc_times.append(step(True))
    ce_ms, mc_ms = 1e3 * statistics.median(ce_times), 1e3 * statistics.median(mc_times)

    with torch.no_grad():
        feats = model.encode(x)
    g, p = feats.global_.detach().requires_grad_(True), feats.parts.detach().requires_grad_(True)
    obj_times = []
    for _ in range(args.steps + 3):  # the objective alone: forward + backward on fixed features
        t = time.perf_counter()
        objective((g, p), y)["multi"].backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        obj_times.append(time.perf_counter() - t)
    obj_ms = 1e3 * statistics.median(obj_times[3:])
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, device {dev}, "
          f"threads {torch.get_num_threads()}")
    print(f"profile {args.profile}, layout {args.layout} (P={len(layout.parts)}), batch {args.batch}, "
          f"window {args.window}, classes {k}, text dim {bank.dim}, terms {objective.active_terms}")
    print(f"CE-only step: {ce_ms:.2f} ms (median of {args.steps}); full GSP-MC step: {mc_ms:.2f} ms; "
          f"ratio {mc_ms / ce_ms:.3f}")
    print(f"objective alone (forward + backward): {obj_ms:.2f} ms = {obj_ms / ce_ms:.3f} of a CE-only step")


if __name__ == "__main__":
    main()
