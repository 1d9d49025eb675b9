"""Logistic-regression reference on the signer-independent traduttore protocol (same splits as the GCN).

Usage:
    .venv/bin/python bench/logreg_baseline.py [--folds TheCamNelson dmohazab] [--out runs/logreg.json]

For each fold: softmax regression on the raw flattened frames (gspmc.train.logreg), L2 penalty chosen
on the validation split (10% of the training recorders' clips), test top-1 on the held-out recorder's
clips of the classes the training side has. Deterministic (zero init, full-batch L-BFGS).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime

import torch

from gspmc.data import load_dataset
from gspmc.data.protocols import get_protocol
from gspmc.io import write_json
from gspmc.train.logreg import logreg_baseline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", nargs="+", default=["TheCamNelson", "dmohazab"])
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="runs/logreg_baseline.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clips = load_dataset("traduttore")
    protocol = get_protocol("traduttore-xsigner")
    results = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
               "protocol": "traduttore-xsigner", "split_seed": args.split_seed, "folds": {}}
    for fold in args.folds:
        t0 = time.time()
        split = protocol.split(clips, fold, args.split_seed)
        res = logreg_baseline(clips, split)
        res["seconds"] = round(time.time() - t0, 1)
        results["folds"][fold] = res
        print(f"{fold} held out: val top-1 {100 * res['val_top1']:.1f}%, TEST top-1 {100 * res['test_top1']:.1f}% "
              f"(l2 {res['l2_chosen_on_val']}, {res['counts']['test']} test clips, {res['seconds']} s)", flush=True)
    write_json(args.out, results)
    print(json.dumps({f: {k: r[k] for k in ('val_top1', 'test_top1', 'l2_chosen_on_val')}
                      for f, r in results["folds"].items()}, indent=1))


if __name__ == "__main__":
    main()
