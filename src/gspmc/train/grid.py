"""The experiment runner: every (row x seed x fold x stream) of one config, resumable, plus one table.

Each run is an ordinary ``gspmc fit`` in its own folder ``OUT/<row>/<fold>/<stream>/seed<seed>``
(so a killed grid resumes run by run, and inside a run from its ``last.ckpt``); a run whose
``result.json`` exists is complete and skipped. Runs execute sequentially, or as ``jobs``
parallel processes (each with ``threads`` torch threads) on a many-core machine.

A rows file (YAML) lists config variants; each row is a name plus overrides::

    - name: ce
    - name: ce-nomirror
      set: {augment.mirror_prob: 0.0}

The table (``results.md`` + ``results.csv``) gives, per row, fold and stream, the mean and the
sample standard deviation (ddof=1) of TEST top-1 over seeds, and the same for the fused
streams: equal weights, and weights tuned on each seed's VALIDATION scores only.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gspmc.errors import ConfigError
from gspmc.inference.metrics import topk_accuracy
from gspmc.inference.scores import fuse
from gspmc.io import write_json, write_text
from gspmc.train.config import STREAMS
from gspmc.train.evaluate import align_scores, load_scores, tune_fusion_weights
from gspmc.train.fit import read_result


@dataclass
class Row:
    """One config variant of the grid."""

    name: str
    overrides: list[str] = field(default_factory=list)  # "key=value" as for --set


@dataclass
class GridRun:
    """One training run of the grid."""

    row: str
    fold: str
    stream: str
    seed: int
    out: Path
    overrides: list[str]


def load_rows(path: str | os.PathLike[str] | None) -> list[Row]:
    """Rows from a YAML list of ``{name, set}``; no file: one row ``base`` without overrides."""
    if path is None:
        return [Row("base")]
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read rows file ({err})") from None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: expected a non-empty list of rows ({{name: ..., set: {{key: value}}}})")
    rows = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{path}: row {i} needs a 'name'")
        unknown = set(item) - {"name", "set"}
        if unknown:
            raise ConfigError(f"{path}: row {item['name']!r}: unknown key(s) {', '.join(sorted(unknown))}")
        sets = item.get("set") or {}
        if isinstance(sets, dict):
            overrides = [f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
                         for k, v in sets.items()]
        elif isinstance(sets, list):
            overrides = [str(s) for s in sets]
        else:
            raise ConfigError(f"{path}: row {item['name']!r}: 'set' must be a mapping or a list of key=value")
        rows.append(Row(item["name"], overrides))
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: duplicate row names")
    return rows


def select_rows(rows: list[Row], names: list[str] | None) -> list[Row]:
    """The rows named in ``names`` (in the rows file's order); None: all rows."""
    if not names:
        return rows
    known = [r.name for r in rows]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"--only: no row named {', '.join(map(repr, unknown))} (rows: {', '.join(known)})")
    return [r for r in rows if r.name in names]


def plan_grid(rows: list[Row], seeds: list[int], folds: list[str], streams: list[str], out: Path,
              extra: list[str] = ()) -> list[GridRun]:
    """All runs in a fixed order (row, fold, seed, stream)."""
    for s in streams:
        if s not in STREAMS:
            raise ConfigError(f"--streams: unknown stream {s!r} (known: {', '.join(STREAMS)})")
    runs = []
    for row in rows:
        for fold in folds:
            for seed in seeds:
                for stream in streams:
                    runs.append(GridRun(
                        row=row.name, fold=fold, stream=stream, seed=seed,
                        out=Path(out) / row.name / fold / stream / f"seed{seed}",
                        overrides=[*extra, *row.overrides, f"data.fold={fold}", f"input.stream={stream}",
                                   f"trainer.seed={seed}", f"name={row.name}"],
                    ))
    return runs


def fit_command(config: str, run: GridRun, threads: int | None) -> list[str]:
    """The ``gspmc fit`` command line of one run."""
    cmd = [sys.executable, "-m", "gspmc.cli", "fit", "--config", str(config), "--out", str(run.out)]
    sets = [*run.overrides, "trainer.progress_bar=false"]
    if threads:
        sets.append(f"trainer.threads={threads}")
    for s in sets:
        cmd += ["--set", s]
    return cmd


def run_grid(config: str, runs: list[GridRun], jobs: int = 1, threads: int | None = None,
             log: Any = print) -> dict[str, list[GridRun]]:
    """Run every incomplete run (``jobs`` at a time); returns {"done", "skipped", "failed"} lists."""
    todo = [r for r in runs if read_result(r.out) is None]
    status: dict[str, list[GridRun]] = {"done": [], "skipped": [r for r in runs if r not in todo], "failed": []}
    log(f"grid: {len(runs)} runs, {len(status['skipped'])} already complete, {len(todo)} to run "
        f"({jobs} at a time)")
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))

    def one(i_run: tuple[int, GridRun]) -> tuple[GridRun, int, float]:
        i, run = i_run
        run.out.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        with open(run.out / "fit.log", "ab") as logf:
            rc = subprocess.call(fit_command(config, run, threads), stdout=logf, stderr=subprocess.STDOUT, env=env)
        return run, rc, time.time() - t0

    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, tqdm(total=len(todo), desc="grid", unit="run") as bar:
        for run, rc, dt in pool.map(one, enumerate(todo)):
            ok = rc == 0 and read_result(run.out) is not None
            status["done" if ok else "failed"].append(run)
            res = read_result(run.out)
            if res is None:
                msg = f"FAILED (exit {rc}; see {run.out / 'fit.log'})"
            elif res["test"] is None:
                msg = f"val top-1 {100 * res['val']['top1']:.1f}% (test not scored)"
            else:
                msg = f"test top-1 {100 * res['test']['top1']:.1f}%"
            bar.write(f"  {run.row}/{run.fold}/{run.stream}/seed{run.seed}: {msg} [{dt:.0f} s]")
            bar.update(1)
    return status


# ----------------------------------------------------------------------------------------------
# aggregation


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; nan for a single value, which has no spread to
    estimate, and for none)."""
    if not values:
        return float("nan"), float("nan")
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else float("nan")


def fused_result(runs: list[GridRun]) -> dict[str, Any] | None:
    """Fused test top-1 of one (row, fold, seed)'s streams: equal weights and val-tuned weights."""
    test_files = [r.out / "scores_test.npz" for r in runs]
    val_files = [r.out / "scores_val.npz" for r in runs]
    if not all(p.is_file() for p in test_files + val_files):
        return None
    names = [str(p) for p in test_files]
    test, labels = align_scores([load_scores(p) for p in test_files], names)
    val, val_labels = align_scores([load_scores(p) for p in val_files], [str(p) for p in val_files])
    weights = tune_fusion_weights(val, val_labels)
    return {
        "equal": topk_accuracy(fuse(test), labels, 1),
        "val_tuned": topk_accuracy(fuse(test, weights), labels, 1),
        "val_tuned_weights": weights,
        "val_equal": topk_accuracy(fuse(val), val_labels, 1),
    }


def aggregate(runs: list[GridRun]) -> list[dict[str, Any]]:
    """Table lines: one per (row, fold, stream) plus fused lines per (row, fold) when >1 stream."""
    lines: list[dict[str, Any]] = []
    groups: dict[tuple[str, str, str], list[tuple[GridRun, dict[str, Any]]]] = defaultdict(list)
    by_seed: dict[tuple[str, str, int], list[GridRun]] = defaultdict(list)
    order: list[tuple[str, str]] = []
    streams_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    for run in runs:
        if (run.row, run.fold) not in order:
            order.append((run.row, run.fold))
        if run.stream not in streams_of[(run.row, run.fold)]:
            streams_of[(run.row, run.fold)].append(run.stream)
        res = read_result(run.out)
        if res is not None:
            groups[(run.row, run.fold, run.stream)].append((run, res))
        by_seed[(run.row, run.fold, run.seed)].append(run)
    for row, fold in order:
        for stream in streams_of[(row, fold)]:
            done = groups.get((row, fold, stream), [])
            tested = [(run, r) for run, r in done if r.get("test") is not None]
            test = [r["test"]["top1"] for _, r in tested]
            val = [r["val"]["top1"] for _, r in done]
            m, s = mean_std(test)
            lines.append({
                "row": row, "fold": fold, "stream": stream, "seeds": len(done),
                "test_top1_mean": m, "test_top1_std": s, "val_top1_mean": mean_std(val)[0],
                "val_top1_std": mean_std(val)[1],
                "val_loss_mean": mean_std([r["val"]["loss"] for _, r in done if r["val"].get("loss") is not None])[0],
                "test_top5_mean": mean_std([r["test"]["top5"] for _, r in tested])[0],
                "test_clips": tested[0][1]["split_sizes"]["test"]["clips"] if tested else None,
                "wall_time_s_mean": mean_std([r["wall_time_s"] for _, r in done])[0],
                "per_seed": {f"seed{run.seed}": r["test"]["top1"] for run, r in tested},
                "per_seed_val": {f"seed{run.seed}": r["val"]["top1"] for run, r in done},
            })
        if len(streams_of[(row, fold)]) > 1:
            fused = []
            for (r_, f_, seed), seed_runs in sorted(by_seed.items(), key=lambda kv: kv[0][2]):
                if (r_, f_) != (row, fold) or any(read_result(r.out) is None for r in seed_runs):
                    continue
                res = fused_result(seed_runs)
                if res is not None:
                    fused.append((seed, res))
            for kind, label in (("equal", "fused (equal weights)"), ("val_tuned", "fused (weights tuned on val)")):
                vals = [res[kind] for _, res in fused]
                m, s = mean_std(vals)
                line = {"row": row, "fold": fold, "stream": label, "seeds": len(fused),
                        "test_top1_mean": m, "test_top1_std": s,
                        "val_top1_mean": mean_std([res["val_equal"] for _, res in fused])[0] if kind == "equal" else None,
                        "test_top5_mean": None, "test_clips": None, "wall_time_s_mean": None,
                        "per_seed": {f"seed{seed}": res[kind] for seed, res in fused},
                        "per_seed_val": {f"seed{seed}": res["val_equal"] for seed, res in fused} if kind == "equal" else {}}
                if kind == "val_tuned":
                    line["weights"] = {f"seed{seed}": res["val_tuned_weights"] for seed, res in fused}
                lines.append(line)
    return lines


def _pct(x: float | None) -> str:
    return "" if x is None or x != x else f"{100 * x:.1f}"


def held_out_group(cfg: Any) -> str:
    """What a fold of the config's protocol holds out, for table captions: ``signer`` (the signer-independent
    presets), the protocol's group (``session``, ...) for the generic group protocols, else ``test split``."""
    protocol, group = cfg.data.protocol, cfg.data.group
    if protocol in ("leave-one-group-out", "group-kfold"):
        return str(group)
    if protocol.endswith("xsigner") or "signer" in protocol:
        return "signer"
    return "test split"


def format_markdown(lines: list[dict[str, Any]], title: str = "", command: str = "", group: str = "signer") -> str:
    """One Markdown table per row: streams down, folds across, ``mean ± std (n seeds)`` of test top-1 in %
    (one seed: the value alone). ``group``: what a fold holds out (:func:`held_out_group`)."""
    out = io.StringIO()
    if title:
        out.write(f"## {title}\n\n")
    if command:
        out.write(f"Command: `{command}`\n\n")
    out.write(f"Test top-1 (%) on the held-out {group}, mean ± sample std over seeds (n; one seed: no ±); "
              f"validation top-1 mean in brackets (the {group}s of training).\n\n")
    rows = list(dict.fromkeys(line["row"] for line in lines))
    for row in rows:
        sel = [line for line in lines if line["row"] == row]
        folds = list(dict.fromkeys(line["fold"] for line in sel))
        streams = list(dict.fromkeys(line["stream"] for line in sel))
        out.write(f"### {row}\n\n| stream | " + " | ".join(f"{group} {f} held out" for f in folds) + " |\n")
        out.write("|---|" + "---|" * len(folds) + "\n")
        for stream in streams:
            cells = []
            for fold in folds:
                line = next((x for x in sel if x["fold"] == fold and x["stream"] == stream), None)
                if line is None or not line["seeds"]:
                    cells.append("–")
                    continue
                spread = line["test_top1_std"]
                cell = (f"{_pct(line['test_top1_mean'])} ± {_pct(spread)} ({line['seeds']})" if spread == spread
                        else f"{_pct(line['test_top1_mean'])} ({line['seeds']})")
                if line.get("val_top1_mean") is not None:
                    cell += f" [val {_pct(line['val_top1_mean'])}]"
                cells.append(cell)
            out.write(f"| {stream} | " + " | ".join(cells) + " |\n")
        out.write("\n")
    return out.getvalue()


def format_csv(lines: list[dict[str, Any]]) -> str:
    """Long-format CSV: one line per (row, fold, stream), accuracies as fractions."""
    cols = ["row", "fold", "stream", "seeds", "test_top1_mean", "test_top1_std", "val_top1_mean",
            "test_top5_mean", "test_clips", "wall_time_s_mean", "per_seed"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for line in lines:
        w.writerow([_csv_cell(line.get(c)) for c in cols])
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    if isinstance(v, dict):
        return " ".join(f"{k}={x:.4f}" for k, x in v.items())
    if isinstance(v, float):
        return "" if v != v else f"{v:.4f}"
    return "" if v is None else v


def write_tables(out: Path, lines: list[dict[str, Any]], command: str = "", group: str = "signer") -> dict[str, Path]:
    """results.md, results.csv and results.json in ``out`` (atomic); ``group``: what a fold holds out."""
    out = Path(out)
    paths = {
        "md": write_text(out / "results.md", format_markdown(lines, title=f"Results: {out}", command=command,
                                                             group=group)),
        "csv": write_text(out / "results.csv", format_csv(lines)),
        "json": write_json(out / "results.json", {"command": command, "lines": lines}),
    }
    return paths


def write_comparison(out: Path, lines: list[dict[str, Any]], baseline: str, rows: list[str],
                     command: str = "", split: str = "test") -> dict[str, Path]:
    """compare.md / compare.csv / compare.json (``compare_val.*`` for ``split="val"``): each of ``rows``
    against ``baseline``, paired by seed (:func:`gspmc.train.paired.compare_lines`)."""
    from gspmc.train.paired import compare_lines, format_compare_csv, format_compare_markdown

    key = "per_seed" if split == "test" else "per_seed_val"
    cmp = compare_lines([{**ln, "per_seed": ln.get(key) or {}} for ln in lines], baseline, rows)
    stem = "compare" if split == "test" else "compare_val"
    head = f"## Paired comparison ({split.upper()} top-1): {', '.join(rows)} vs {baseline} ({out})\n\n"
    if command:
        head += f"Command: `{command}`\n\n"
    out = Path(out)
    return {
        "md": write_text(out / f"{stem}.md", head + format_compare_markdown(cmp, split=split)),
        "csv": write_text(out / f"{stem}.csv", format_compare_csv(cmp)),
        "json": write_json(out / f"{stem}.json", {"command": command, "baseline": baseline, "rows": rows,
                                                  "split": split, "lines": cmp}),
    }
