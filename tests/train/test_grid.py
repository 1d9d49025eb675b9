"""The experiment runner: planning, skip-if-done, aggregation (mean / std over seeds, fusion)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gspmc.errors import ConfigError
from gspmc.io import write_json
from gspmc.train import grid
from gspmc.train.evaluate import ScoreFile, save_scores


def _fake_run(run: grid.GridRun, test_top1: float, val_top1: float = 0.9, scores: dict | None = None) -> None:
    write_json(run.out / "result.json", {
        "complete": True, "test": {"top1": test_top1, "top5": 1.0}, "val": {"top1": val_top1},
        "split_sizes": {"test": {"clips": 4}}, "wall_time_s": 10.0,
    })
    for split, sf in (scores or {}).items():
        save_scores(run.out / f"scores_{split}.npz", sf)


def test_plan_paths_and_overrides(tmp_path) -> None:
    runs = grid.plan_grid([grid.Row("ce", ["optim.lr=0.1"])], [0, 1], ["A", "B"], ["joint", "bone"], tmp_path)
    assert len(runs) == 8
    r = runs[0]
    assert r.out == tmp_path / "ce" / "A" / "joint" / "seed0"
    assert r.overrides == ["optim.lr=0.1", "data.fold=A", "input.stream=joint", "trainer.seed=0", "name=ce"]
    cmd = grid.fit_command("cfg.yaml", r, threads=2)
    assert cmd[:4] == [sys.executable, "-m", "gspmc.cli", "fit"]
    assert "trainer.threads=2" in cmd and str(r.out) in cmd
    with pytest.raises(ConfigError, match="unknown stream"):
        grid.plan_grid([grid.Row("x")], [0], ["A"], ["elbow"], tmp_path)


def test_rows_file(tmp_path) -> None:
    p = tmp_path / "rows.yaml"
    p.write_text("- name: ce\n- name: nomirror\n  set: {augment.mirror: false, optim.milestones: [3, 4]}\n")
    rows = grid.load_rows(p)
    assert [r.name for r in rows] == ["ce", "nomirror"]
    assert rows[1].overrides == ["augment.mirror=false", "optim.milestones=[3, 4]"]
    p.write_text("- name: a\n  sett: {}\n")
    with pytest.raises(ConfigError, match="sett"):
        grid.load_rows(p)
    assert [r.name for r in grid.load_rows(None)] == ["base"]


def test_mean_std() -> None:
    m, s = grid.mean_std([0.5, 0.7, 0.9])
    assert m == pytest.approx(0.7) and s == pytest.approx(0.2)  # sample std (ddof=1)
    m, s = grid.mean_std([0.4])
    assert m == 0.4 and np.isnan(s)  # one seed has no spread: never "± 0.0"
    assert all(np.isnan(grid.mean_std([])))


def test_aggregate_fake_runs(tmp_path) -> None:
    runs = grid.plan_grid([grid.Row("ce")], [0, 1, 2], ["A"], ["joint", "bone"], tmp_path)
    classes = ["x", "y"]
    ids = np.array(["c0", "c1", "c2", "c3"])
    labels = np.array([0, 1, 0, 1])
    # joint stream: right on clips 0, 1; bone stream: right on clips 2, 3 but more confident.
    joint = np.array([[2.0, 0], [0, 2.0], [0, 0.5], [0.5, 0]], np.float32)
    bone = np.array([[0, 0.2], [0.2, 0], [4.0, 0], [0, 4.0]], np.float32)
    tops = {"joint": [0.5, 0.6, 0.7], "bone": [0.2, 0.4, 0.6]}
    for run in runs:
        mat = joint if run.stream == "joint" else bone
        sf = ScoreFile(mat, labels, ids, classes)
        _fake_run(run, tops[run.stream][run.seed], scores={"test": sf, "val": sf})
    lines = grid.aggregate(runs)
    by = {line["stream"]: line for line in lines}
    assert by["joint"]["seeds"] == 3
    assert by["joint"]["test_top1_mean"] == pytest.approx(0.6)
    assert by["joint"]["test_top1_std"] == pytest.approx(0.1)
    assert by["bone"]["test_top1_mean"] == pytest.approx(0.4)
    assert by["bone"]["test_top1_std"] == pytest.approx(0.2)
    # equal-weight fusion: bone's confident right answers win clips 2, 3; joint keeps clips 0, 1
    fused = by["fused (equal weights)"]
    assert fused["seeds"] == 3 and fused["test_top1_mean"] == pytest.approx(1.0) and fused["test_top1_std"] == 0.0
    md = grid.format_markdown(lines)
    assert "| joint | 60.0 ± 10.0 (3) [val 90.0] |" in md and "| stream | signer A held out |" in md
    one = [{**lines[0], "seeds": 1, "test_top1_std": float("nan")}]
    md = grid.format_markdown(one, group="session")
    assert "| joint | 60.0 (1) [val 90.0] |" in md and "± 0.0" not in md and "held-out session" in md
    csv_text = grid.format_csv(lines)
    assert csv_text.splitlines()[1].startswith("ce,A,joint,3,0.6000,0.1000")
    paths = grid.write_tables(tmp_path, lines, command="gspmc grid ...")
    assert paths["md"].is_file() and paths["csv"].is_file()


def test_incomplete_runs_are_not_counted_and_not_skipped(tmp_path, monkeypatch) -> None:
    runs = grid.plan_grid([grid.Row("ce")], [0, 1], ["A"], ["joint"], tmp_path)
    _fake_run(runs[0], 0.5)
    runs[1].out.mkdir(parents=True)
    (runs[1].out / "result.json").write_text('{"complete": false}')  # a run killed before the end
    lines = grid.aggregate(runs)
    assert lines[0]["seeds"] == 1 and lines[0]["test_top1_mean"] == pytest.approx(0.5)

    called = []

    def fake_call(cmd, **kwargs):  # stands in for the child `gspmc fit`; completes the run it is given
        out = cmd[cmd.index("--out") + 1]
        called.append(out)
        run = next(r for r in runs if str(r.out) == out)
        _fake_run(run, 0.7)
        return 0

    monkeypatch.setattr(grid.subprocess, "call", fake_call)
    status = grid.run_grid("cfg.yaml", runs, log=lambda *_: None)
    assert called == [str(runs[1].out)]  # the complete run is skipped
    assert [r.out for r in status["skipped"]] == [runs[0].out]
    assert [r.out for r in status["done"]] == [runs[1].out]
    # a second pass has nothing left to do
    called.clear()
    status = grid.run_grid("cfg.yaml", runs, log=lambda *_: None)
    assert called == [] and len(status["skipped"]) == 2


def test_select_rows_keeps_file_order_and_rejects_unknown_names() -> None:
    rows = [grid.Row("ce"), grid.Row("synonym", ["mc.enabled=true"]), grid.Row("all", ["mc.enabled=true"])]
    assert [r.name for r in grid.select_rows(rows, ["all", "ce"])] == ["ce", "all"]
    assert grid.select_rows(rows, None) == rows
    with pytest.raises(ConfigError, match="'alll'"):
        grid.select_rows(rows, ["alll"])


def test_shipped_ablation_rows_are_the_paper_table5_switches() -> None:
    from gspmc.train.config import CONFIG_DIR, load_config

    rows = grid.load_rows(CONFIG_DIR / "rows" / "ablation.yaml")
    terms = {}
    for row in rows:
        cfg = load_config("traduttore", row.overrides)
        terms[row.name] = None if not cfg.mc.enabled else tuple(
            cfg.mc.options["terms"][k] for k in ("global", "synonym", "parts"))
    assert terms == {
        "ce": None,
        "synonym": (False, True, False),
        "description": (True, False, False),
        "multipart": (False, False, True),
        "synonym+description": (True, True, False),
        "all": (True, True, True),
    }


def test_write_comparison_pairs_rows_by_seed(tmp_path) -> None:
    runs = grid.plan_grid([grid.Row("ce"), grid.Row("all")], [0, 1, 2], ["A"], ["joint"], tmp_path)
    acc = {("ce", 0): 0.80, ("ce", 1): 0.70, ("ce", 2): 0.90, ("all", 0): 0.82, ("all", 1): 0.73, ("all", 2): 0.91}
    for run in runs:
        _fake_run(run, acc[(run.row, run.seed)])
    paths = grid.write_comparison(tmp_path, grid.aggregate(runs), "ce", ["all"], command="gspmc grid ...")
    md = paths["md"].read_text()
    assert "### all vs ce" in md and "3/0/0" in md  # three wins of 2, 3 and 1 points
    assert "+2.0 [" in md  # mean difference 2.0 points
    import json

    line = json.loads(paths["json"].read_text())["lines"][0]
    assert line["diffs"] == pytest.approx([2.0, 3.0, 1.0])
    # three wins, but with 3 seeds the t interval is 2 -/+ 4.30 * 1 / sqrt(3): it still contains 0
    assert line["ci_low"] == pytest.approx(2 - 2.484138, abs=1e-4) and not line["excludes_zero"]


def test_validation_only_runs_aggregate_and_compare_on_val(tmp_path) -> None:
    """trainer.test false: result.json has no test figures; the table and a val comparison still work."""
    runs = grid.plan_grid([grid.Row("ce"), grid.Row("tau07")], [0, 1], ["A"], ["joint"], tmp_path)
    val = {("ce", 0): 0.90, ("ce", 1): 0.92, ("tau07", 0): 0.95, ("tau07", 1): 0.93}
    for run in runs:
        write_json(run.out / "result.json", {"complete": True, "test": None,
                                             "val": {"top1": val[(run.row, run.seed)], "loss": 0.3},
                                             "split_sizes": {"test": {"clips": 4}}, "wall_time_s": 1.0})
    lines = grid.aggregate(runs)
    assert all(ln["per_seed"] == {} and ln["seeds"] == 2 for ln in lines)
    assert lines[0]["per_seed_val"] == {"seed0": 0.90, "seed1": 0.92} and lines[0]["val_loss_mean"] == 0.3
    paths = grid.write_comparison(tmp_path, lines, "ce", ["tau07"], split="val")
    assert paths["md"].name == "compare_val.md" and "VAL top-1" in paths["md"].read_text()
    import json

    line = json.loads(paths["json"].read_text())["lines"][0]
    assert line["diffs"] == pytest.approx([5.0, 1.0])
