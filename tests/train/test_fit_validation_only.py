"""trainer.test false (hyper-parameter searches): the test split is never scored."""

from __future__ import annotations

import json

from gspmc.cli import main


def test_validation_only_run_never_scores_test(tmp_path, make_tiny_config, capsys) -> None:
    out = tmp_path / "search"
    assert main(["fit", "--config", str(make_tiny_config(epochs=1)), "--out", str(out),
                 "--set", "trainer.test=false"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["test"] is None and result["test_report"] is None
    assert 0.0 <= result["val"]["top1"] <= 1.0 and result["val"]["loss"] > 0
    assert (out / "scores_val.npz").is_file() and not (out / "scores_test.npz").exists()
    assert not (out / "report_test.json").exists()
    assert "test split not scored (trainer.test: false)" in capsys.readouterr().out
