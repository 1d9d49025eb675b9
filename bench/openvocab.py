"""The open-vocabulary protocol end to end (docs/open-vocabulary.md): train, evaluate, tabulate.

Usage (from the repository root; runs are resumable and skipped when complete):

    .venv/bin/python bench/openvocab.py train --store descriptions/traduttore_asl33.jsonl \
        --folds TheCamNelson dmohazab --seeds 0 1 2 --threads 1 --root runs/openvocab
    .venv/bin/python bench/openvocab.py evaluate --store descriptions/traduttore_asl33.jsonl --root runs/openvocab
    .venv/bin/python bench/openvocab.py table --root runs/openvocab [--stores TAG ...]

``--store none`` trains / evaluates the CE-only baseline (GSP-MC off, same recipe and seeds; folder ``ce``);
``--config`` picks the recipe (default ``traduttore-ctrgcn``; ``traduttore`` = landmark-small + AdamW).
``train`` runs one training per (fold, split seed) on the seen classes only, one at a time;
``evaluate`` writes ``openvocab_eval.json`` into each finished run; ``table`` prints the markdown
tables of docs/open-vocabulary.md from those files (mean ± sample std over folds x splits).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _clips():
    from gspmc.data import load_dataset

    return load_dataset("traduttore")


def _store(value: str) -> str | None:
    """``--store none`` = the CE-only baseline (no description store)."""
    return None if value.lower() == "none" else value


def cmd_train(args: argparse.Namespace) -> int:
    from gspmc.openvocab.protocol import all_splits, run_dir, train_split

    clips = _clips()
    store = _store(args.store)
    for split in all_splits(clips, args.seeds, args.folds):
        t0 = time.time()
        out = run_dir(args.root, store, split)
        print(f"[openvocab] {out}: unseen {list(split.unseen)}, validation {list(split.val_unseen)}, "
              f"{len(split.seen)} seen", flush=True)
        result = train_split(clips, store, split, args.root, config=args.config,
                             overrides=[f"trainer.threads={args.threads}", *args.set])
        print(f"[openvocab] {out}: seen-class test top-1 {result['test']['top1']:.4f}, "
              f"val {result['val']['top1']:.4f} ({time.time() - t0:.0f} s)", flush=True)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from gspmc.openvocab.evaluate import evaluate_run
    from gspmc.openvocab.protocol import all_splits, run_dir

    clips = _clips()
    for split in all_splits(clips, args.seeds, args.folds):
        out = run_dir(args.root, _store(args.store), split)
        if not (out / "result.json").is_file():
            print(f"[openvocab] {out}: not trained (run `train` first); skipped", file=sys.stderr)
            continue
        t0 = time.time()
        evaluate_run(out, clips, shots=args.shots, draws=args.draws, force=args.force)
        print(f"[openvocab] {out}: evaluated ({time.time() - t0:.0f} s)", flush=True)
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from gspmc.openvocab.report import tables

    print(tables(args.root, args.stores or None))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("train", "evaluate"):
        p = sub.add_parser(name)
        p.add_argument("--store", required=True, help="description store (.jsonl) the runs train / are evaluated "
                       "with; 'none': the CE-only baseline")
        p.add_argument("--folds", nargs="+", default=["TheCamNelson", "dmohazab"])
        p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="class-split seeds")
        p.add_argument("--root", type=Path, default=Path("runs/openvocab"))
        if name == "train":
            p.add_argument("--threads", type=int, default=1)
            p.add_argument("--config", default="traduttore-ctrgcn", help="training recipe (a shipped config name "
                           "or a YAML path); traduttore = landmark-small + AdamW")
            p.add_argument("--set", action="append", default=[], help="extra config override KEY=VALUE")
        else:
            p.add_argument("--shots", nargs="+", type=int, default=[1, 3, 5])
            p.add_argument("--draws", type=int, default=5, help="support-set draws per shot count")
            p.add_argument("--force", action="store_true", help="re-evaluate runs that have openvocab_eval.json")
    p = sub.add_parser("table")
    p.add_argument("--root", type=Path, default=Path("runs/openvocab"))
    p.add_argument("--stores", nargs="*", help="store tags (default: every folder under --root)")
    args = ap.parse_args()
    return {"train": cmd_train, "evaluate": cmd_evaluate, "table": cmd_table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
