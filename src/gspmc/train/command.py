"""CLI commands of gspmc.train: ``fit``, ``test``, ``demo``, ``grid``, ``info``.

- ``gspmc fit --config X [--set k=v ...] [--out runs/NAME] [--resume CKPT]``: train one run
  (resumes from ``OUT/last.ckpt`` automatically), then test the best-on-validation checkpoint once.
- ``gspmc test --checkpoint A [--checkpoint B ...] [--weights 1 1] [--split test|val] [--out DIR]``:
  score checkpoints on a split of their own data protocol, fuse several streams, write a report.
- ``gspmc demo``: train ``gspmc/configs/demo.yaml`` on the default data (signer-independent fold
  TheCamNelson) and print the held-out signer's test top-1 and where the report is.
- ``gspmc grid --config X --seeds 0 1 2 --folds A B --streams joint bone ... --out runs/grid``:
  the experiment runner (see :mod:`gspmc.train.grid`).
- ``gspmc info --config X``: parameter count and FLOPs per clip of the configured model.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from gspmc.errors import ConfigError, DataError


def register(subparsers: Any) -> None:
    """Add the training sub-commands to the ``gspmc`` parser."""
    p = subparsers.add_parser("fit", help="train a model from a YAML config (resumable)")
    _config_args(p)
    p.add_argument("--out", help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", help="checkpoint to resume from (default: OUT/last.ckpt when it exists)")
    p.set_defaults(func=run_fit)

    p = subparsers.add_parser("test", help="evaluate checkpoints on a split; fuse several streams")
    p.add_argument("--checkpoint", action="append", required=True, help="a .ckpt (repeat for fusion)")
    p.add_argument("--weights", type=float, nargs="+", help="fusion weights, one per checkpoint (default equal)")
    p.add_argument("--tune-weights", action="store_true", help="choose fusion weights on the validation split")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the data section of the checkpoint's config (e.g. data.path=...)")
    p.add_argument("--out", help="where scores and the report go (default: next to the first checkpoint)")
    p.add_argument("--shared-classes", action="store_true",
                   help="when the checkpoint's classes and the data's differ, score only the classes both have "
                   "(default: refuse; the same classes in another order are always matched by name)")
    p.set_defaults(func=run_test)

    p = subparsers.add_parser("demo", help="train + evaluate the demo config on the default data")
    _config_args(p, default="demo")
    p.add_argument("--out", default="runs/demo", help="run folder (default: runs/demo)")
    p.set_defaults(func=run_demo)

    p = subparsers.add_parser("grid", help="run a grid of rows x seeds x folds x streams; one results table")
    _config_args(p)
    p.add_argument("--rows", help="YAML list of {name, set: {key: value}} config variants")
    p.add_argument("--only", nargs="+", metavar="ROW", help="run / tabulate only these rows of the rows file")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--folds", nargs="+", help="protocol folds, or 'all' for every fold of the protocol "
                                              "(default: the config's fold)")
    p.add_argument("--streams", nargs="+", default=["joint"],
                   help="joint bone joint_motion bone_motion (fused when more than one)")
    p.add_argument("--jobs", type=int, default=1, help="parallel training processes (default 1)")
    p.add_argument("--threads", type=int, help="torch threads per process (default: cores / jobs)")
    p.add_argument("--out", default="runs/grid")
    p.add_argument("--table-only", action="store_true", help="only rebuild the results table from finished runs")
    p.add_argument("--compare", nargs="+", metavar="ROW",
                   help="paired comparison: the first row is the baseline, each other row is compared with it "
                        "seed by seed (mean difference, 95%% CI, wins/losses); writes compare.md/.csv/.json")
    p.add_argument("--compare-split", choices=("test", "val"), default="test",
                   help="which split's top-1 --compare pairs (val: for choosing settings; default test)")
    p.set_defaults(func=run_grid)

    p = subparsers.add_parser("info", help="what the data at PATH holds (classes, clips per group, frames, folds) "
                              "and/or the configured model's parameters and FLOPs per clip")
    p.add_argument("path", nargs="?", help="your data: an npz, an MP_Data tree, a folder of .pose files or videos")
    p.add_argument("--config", help="YAML config file, or the name of a shipped one (gspmc/configs/) (e.g. traduttore)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set data.protocol=group-kfold (repeatable)")
    p.add_argument("--classes", type=int, help="number of classes (default: read the configured dataset)")
    p.set_defaults(func=run_info)


def _config_args(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--config", default=default, required=default is None,
                   help="YAML config file, or the name of a shipped one (gspmc/configs/) (e.g. traduttore)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=0.1 (repeatable)")


def run_fit(args: argparse.Namespace) -> int:
    from gspmc.train.config import load_config
    from gspmc.train.fit import fit

    cfg = load_config(args.config, args.set)
    out = Path(args.out or Path("runs") / cfg.name)
    result = fit(cfg, out, resume=args.resume)
    if result:
        _print_result(result, out)
    return 0


def _print_result(result: dict[str, Any], out: Path) -> None:
    xs = " (signer-independent: held-out signer)" if result["protocol"].endswith("xsigner") else ""
    print(f"run folder: {out}")
    print(f"best epoch (chosen on validation): {result['best_epoch']}; "
          f"val top-1 {100 * result['val']['top1']:.1f}%")
    if result["test"] is None:
        print("test split not scored (trainer.test: false)")
        return
    print(f"TEST top-1{xs}, fold {result['fold']}: {100 * result['test']['top1']:.1f}% "
          f"(top-5 {100 * result['test']['top5']:.1f}%, {result['split_sizes']['test']['clips']} clips)")
    print(f"report: {result['test_report']}")
    print(f"confusion matrix: {result['confusion_png']}")


def run_demo(args: argparse.Namespace) -> int:
    from gspmc.paths import data_dir
    from gspmc.train.config import load_config
    from gspmc.train.fit import fit

    cfg = load_config(args.config, args.set)
    if cfg.data.path is None and cfg.data.dataset == "traduttore":
        path = data_dir() / "traduttore_asl33.npz"
        if not path.is_file():
            raise DataError(path, "the demo data is missing; run `gspmc data` to fetch it "
                                  "(or set GSPMC_DATA to the folder holding traduttore_asl33.npz)")
    from gspmc.models import get_profile

    backbone = {"ctrgcn": "CTR-GCN", "landmark": "Conv1D + Transformer"}[get_profile(cfg.model.profile, **dict(cfg.model.overrides)).backbone]
    print(f"gspmc demo: training {cfg.name} ({cfg.model.profile} {backbone}, {cfg.input.layout}, "
          f"stream {cfg.input.stream}) on {cfg.data.dataset}, protocol {cfg.data.protocol}, "
          f"held-out signer {cfg.data.fold}; {cfg.optim.epochs} epochs", flush=True)
    result = fit(cfg, Path(args.out))
    if result:
        _print_result(result, Path(args.out))
    return 0


def run_test(args: argparse.Namespace) -> int:
    import numpy as np

    from gspmc.inference.scores import fuse
    from gspmc.io import write_json
    from gspmc.train.config import apply_override, config_from_dict
    from gspmc.train.datamodule import SkeletonDataModule
    from gspmc.train.evaluate import (
        ScoreFile,
        align_scores,
        evaluate_scores,
        load_scores,
        tune_fusion_weights,
    )
    from gspmc.train.fit import evaluate_checkpoint

    ckpts = [Path(c) for c in args.checkpoint]
    if args.weights and len(args.weights) != len(ckpts):
        raise ConfigError(f"--weights: {len(args.weights)} weights for {len(ckpts)} checkpoints")
    out = Path(args.out) if args.out else ckpts[0].parent / "eval"
    from gspmc.inference.checkpoint import read_checkpoint

    clips, first_data = None, None
    split_files: dict[str, list[Path]] = {"val": [], "test": []}
    splits = ("val", "test") if args.tune_weights else (args.split,)
    for i, ckpt in enumerate(ckpts):
        meta = read_checkpoint(ckpt)["gspmc"]
        raw = dict(meta["config"])
        for item in args.set:
            if not item.startswith("data."):
                raise ConfigError(f"--set {item}: only data.* keys can be changed at test time")
            apply_override(raw, item)
        cfg = config_from_dict(raw)
        dm = SkeletonDataModule(cfg, clips if cfg.data == first_data else None)  # read the data once
        dm.setup("test")
        if clips is None:
            clips, first_data = dm.clips, cfg.data
        sub = out / (f"{i}_{ckpt.stem}" if len(ckpts) > 1 else "")
        reports = evaluate_checkpoint(ckpt, dm, sub, splits=splits, config=raw, shared=args.shared_classes)
        for split in splits:
            split_files[split].append(sub / f"scores_{split}.npz")
        r = reports[args.split]
        print(f"{ckpt}: {args.split} top-1 {100 * r['metrics']['top1']:.1f}% "
              f"(fold {cfg.data.fold}, stream {cfg.input.stream}, {r['counts']['clips']} clips)")
        if "shared_classes" in r:
            sc = r["shared_classes"]
            print(f"  scored on the {sc['scored']} classes the checkpoint and the data share (--shared-classes); "
                  f"not scored: data only {sc['data_only']}, model only {sc['model_only']}")
    if len(ckpts) > 1:
        files = [load_scores(p) for p in split_files[args.split]]
        mats, labels = align_scores(files, [str(p) for p in split_files[args.split]])
        weights = args.weights
        if args.tune_weights:
            val, val_labels = align_scores([load_scores(p) for p in split_files["val"]],
                                           [str(p) for p in split_files["val"]])
            weights = tune_fusion_weights(val, val_labels)
        weights = list(weights) if weights else [1.0] * len(ckpts)
        fused = fuse(mats, weights)
        ids = np.sort(files[0].ids)
        report = evaluate_scores(
            ScoreFile(fused.astype(np.float32), labels, ids, files[0].classes), out, args.split,
            checkpoints=[str(c) for c in ckpts], stem=f"{args.split}_fused",
            extra={"fusion_weights": weights, "weights_from": "validation" if args.tune_weights else "given"},
        )
        write_json(out / f"fusion_{args.split}.json", {"weights": weights, "checkpoints": [str(c) for c in ckpts]})
        print(f"fused ({len(ckpts)} streams, weights {weights}): {args.split} top-1 "
              f"{100 * report['metrics']['top1']:.1f}%")
        print(f"report: {report['report_json']}")
    else:
        print(f"report: {out / f'report_{args.split}.json'}")
    return 0


def run_grid(args: argparse.Namespace) -> int:
    import os

    from gspmc.train import grid
    from gspmc.train.config import load_config
    from gspmc.train.datamodule import resolve_folds

    cfg = load_config(args.config, args.set)  # check the config (and overrides) before starting anything
    rows = grid.select_rows(grid.load_rows(args.rows), args.only)
    for row in rows:
        load_config(args.config, [*args.set, *row.overrides])
    folds = resolve_folds(cfg, args.folds)  # 'all': every fold the protocol makes on the data
    out = Path(args.out)
    runs = grid.plan_grid(rows, args.seeds, folds, args.streams, out, extra=args.set)
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    command = "gspmc " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["grid"] else ""
    if not args.table_only:
        status = grid.run_grid(args.config, runs, jobs=args.jobs, threads=threads if args.jobs > 1 else args.threads)
        if status["failed"]:
            print(f"grid: {len(status['failed'])} run(s) failed; rerun the same command to retry them", file=sys.stderr)
    lines = grid.aggregate(runs)
    paths = grid.write_tables(out, lines, command=command, group=grid.held_out_group(cfg))
    print(paths["md"].read_text(encoding="utf-8"))
    print(f"tables: {paths['md']}, {paths['csv']}")
    if args.compare:
        if len(args.compare) < 2:
            raise ConfigError("--compare needs a baseline row and at least one row to compare with it")
        known = {r.name for r in rows}
        unknown = [r for r in args.compare if r not in known]
        if unknown:
            raise ConfigError(f"--compare: {', '.join(map(repr, unknown))} not among the grid's rows "
                              f"({', '.join(sorted(known))})")
        cpaths = grid.write_comparison(out, lines, args.compare[0], args.compare[1:], command=command,
                                       split=args.compare_split)
        print(cpaths["md"].read_text(encoding="utf-8"))
        print(f"paired comparison: {cpaths['md']}, {cpaths['csv']}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    import json

    from gspmc.models import build_model, count_parameters, flops_per_clip
    from gspmc.pose.layouts import get_layout
    from gspmc.train.config import load_config
    from gspmc.train.module import resolve_model_config

    if args.path is None and args.config is None:
        raise ConfigError("gspmc info: give a data PATH, a --config, or both")
    sets = list(args.set)
    if args.path is not None:
        explicit = {item.partition("=")[0].strip() for item in sets}
        sets = [f"data.path={json.dumps(str(args.path))}", *([] if "data.dataset" in explicit else
                                                                ["data.dataset=auto"]), *sets]
    cfg = load_config(args.config, sets)
    clips = None
    if args.path is not None:
        from gspmc.data.summary import describe_data, group_columns
        from gspmc.train.datamodule import get_data_protocol, load_clips, resolve_from_data

        clips = load_clips(cfg)
        if args.config is not None or any(s.startswith("data.protocol=") for s in args.set):
            protocols = [(f"{cfg.data.protocol}" + (f" (group {cfg.data.group})" if cfg.data.protocol in
                          ("leave-one-group-out", "group-kfold") else ""), get_data_protocol(cfg))]
        else:  # no protocol asked for: what leaving out each group would make
            from gspmc.data.protocols import get_protocol

            protocols = [(f"leave-one-group-out (group {g})", get_protocol("leave-one-group-out", group=g))
                         for g in group_columns(clips)]
        print(describe_data(clips, protocols, cfg.data.split_seed))
        train = None
        if cfg.data.window_from_data and cfg.data.fold not in (None, "all"):
            from gspmc.train.datamodule import make_split

            train = make_split(cfg, clips).train
        cfg = resolve_from_data(cfg, clips, train)
        if args.config is None:
            return 0
    if args.classes is not None:
        num_classes = args.classes
    else:
        from gspmc.train.datamodule import load_clips

        num_classes = len((clips if clips is not None else load_clips(cfg)).classes)
    layout = get_layout(cfg.input.layout)
    model_cfg = resolve_model_config(cfg)
    model = build_model(model_cfg, num_classes, layout)
    flops = flops_per_clip(model, layout.num_joints, cfg.input.window, model_cfg.in_channels)
    print(f"config: {args.config} (profile {cfg.model.profile}, layout {layout.name}: V={layout.num_joints}, "
          f"T={cfg.input.window}, {num_classes} classes)")
    print(f"channels: {list(model_cfg.channels)}, strides: {list(model_cfg.strides)}")
    print(f"parameters: {count_parameters(model):,}")
    print(f"FLOPs per clip (forward, 1 multiply-add = 2 FLOPs): {flops:,} ({flops / 1e9:.3f} GFLOPs)")
    return 0
