"""`gspmc fit` killed with SIGKILL (a real process, killed at a known point by gspmc.faults) resumes to the
same final weights as a run that was never interrupted: mid-epoch, and in the middle of writing last.ckpt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gspmc.cli import main
from gspmc.faults import ENV

pytestmark = pytest.mark.slow


def _fit_process(config: Path, out: Path, kill: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV: kill}
    return subprocess.run([sys.executable, "-m", "gspmc.cli", "fit", "--config", str(config), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_final_state(resumed: Path, straight: Path) -> None:
    a, b = _load(resumed / "last.ckpt"), _load(straight / "last.ckpt")
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"])
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k, v in b["state_dict"].items():
        torch.testing.assert_close(a["state_dict"][k], v, rtol=1e-5, atol=1e-6, msg=k)
    for k, state in b["optimizer_states"][0]["state"].items():
        torch.testing.assert_close(a["optimizer_states"][0]["state"][k]["momentum_buffer"],
                                   state["momentum_buffer"], rtol=1e-5, atol=1e-6)
    if "gspmc_text_generator" in b:  # GSP-MC: the text sampler is where the uninterrupted run's is
        assert torch.equal(a["gspmc_text_generator"], b["gspmc_text_generator"])
    for k, v in _load(straight / "best.ckpt")["state_dict"].items():  # the same epoch was selected
        torch.testing.assert_close(_load(resumed / "best.ckpt")["state_dict"][k], v, rtol=1e-5, atol=1e-6)


@pytest.fixture(params=["ce", "gspmc"])
def straight(request: pytest.FixtureRequest, tmp_path: Path, make_tiny_config, tiny_store) -> tuple[Path, Path]:
    """(config, folder of the same run never interrupted): cross-entropy, and GSP-MC (whose text sampler
    draws from its own generator: its state must be in the checkpoint for the resume to match)."""
    config = make_tiny_config(epochs=3, mc=tiny_store if request.param == "gspmc" else None)
    out = tmp_path / "straight"
    assert main(["fit", "--config", str(config), "--out", str(out)]) == 0
    return config, out


def test_sigkill_mid_epoch_resumes_to_the_same_weights(straight: tuple[Path, Path], tmp_path: Path) -> None:
    config, reference = straight
    steps_per_epoch = _load(reference / "last.ckpt")["global_step"] // 3
    out = tmp_path / "killed"
    kill_step = steps_per_epoch + 2  # in the middle of the second epoch
    done = _fit_process(config, out, f"fit:step@{kill_step}")
    assert done.returncode == -9, done.stderr[-2000:]
    assert not (out / "result.json").exists()
    first = _load(out / "last.ckpt")  # the end of epoch 0, complete
    assert first["epoch"] == 0 and first["global_step"] == steps_per_epoch
    assert main(["fit", "--config", str(config), "--out", str(out)]) == 0  # the same command resumes
    _assert_same_final_state(out, reference)


def test_sigkill_while_writing_last_ckpt_resumes_to_the_same_weights(straight: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    config, reference = straight
    out = tmp_path / "killed"
    done = _fit_process(config, out, "write:last.ckpt@2")  # half of epoch 1's last.ckpt is on disk
    assert done.returncode == -9, done.stderr[-2000:]
    partial = list(out.glob(".last.ckpt.*.tmp"))
    assert len(partial) == 1
    kept = _load(out / "last.ckpt")  # the previous checkpoint, whole and loadable
    assert kept["epoch"] == 0
    assert partial[0].stat().st_size < (out / "last.ckpt").stat().st_size
    assert main(["fit", "--config", str(config), "--out", str(out)]) == 0
    assert not partial[0].exists() and not list(out.glob(".*.tmp"))  # the half-written file was removed
    _assert_same_final_state(out, reference)
