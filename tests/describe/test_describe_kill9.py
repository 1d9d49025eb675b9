"""`gspmc describe` killed with SIGKILL (a real process) loses no finished gloss and leaves no corrupt store:
killed between glosses (by the test's server, at a known request) and in the middle of rewriting the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from describe_helpers import FakeOpenAI
from signal_helpers import SignalAtGloss

from gspmc.cli import main
from gspmc.describe.store import load_store
from gspmc.faults import ENV

GLOSSES = ["coffee", "tea", "water", "muffin"]
pytestmark = pytest.mark.slow


def _args(vocab: Path, kb: Path, out: Path, url: str) -> list[str]:
    return ["describe", "--vocab", str(vocab), "--kb", str(kb), "--llm", "openai:fake-model", "--base-url", url,
            "--out", str(out), "--retries", "0", "--concurrency", "1", "--no-progress"]


def _start(argv: list[str], kill: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if kill:
        env[ENV] = kill
    return subprocess.Popen([sys.executable, "-m", "gspmc.cli", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture()
def vocab(tmp_path: Path) -> Path:
    path = tmp_path / "classes.txt"
    path.write_text("\n".join(GLOSSES) + "\n")
    return path


def _resume_keeps(out: Path, kept: dict, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(argv) == 0
    assert f"skipped {len(kept)} (already done)" in capsys.readouterr().out
    final = load_store(out)
    assert sorted(final.glosses) == sorted(GLOSSES)
    for gloss, record in kept.items():
        assert final.get(gloss).to_json() == record


def test_sigkill_between_glosses(fake_openai: FakeOpenAI, tiny_kb: Path, vocab: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "store.jsonl"
    script = SignalAtGloss(at=3, sig=signal.SIGKILL, out=out)
    script.release.set()  # nothing to wait for: the process cannot react to SIGKILL
    fake_openai.script = script
    argv = _args(vocab, tiny_kb, out, fake_openai.url)
    proc = _start(argv)
    script.pid = proc.pid
    script.started.set()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -9, err
    first = load_store(out)  # loads: the file is whole
    assert sorted(first.glosses) == ["coffee", "tea"]
    _resume_keeps(out, {g: first.get(g).to_json() for g in first.glosses}, argv, capsys)


def test_sigkill_while_rewriting_the_store(fake_openai: FakeOpenAI, tiny_kb: Path, vocab: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "store.jsonl"
    argv = _args(vocab, tiny_kb, out, fake_openai.url)
    proc = _start(argv, kill="write:store.jsonl@3")  # dies half-way through the 3rd rewrite of the store
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -9, err
    partial = list(tmp_path.glob(".store.jsonl.*.tmp"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0
    first = load_store(out)  # the previous version, whole: the glosses finished before, in vocabulary order
    assert 1 <= len(first) < len(GLOSSES) and first.glosses == GLOSSES[:len(first)]
    _resume_keeps(out, {g: first.get(g).to_json() for g in first.glosses}, argv, capsys)
    assert not partial[0].exists()  # the resumed run removed the killed run's temporary
