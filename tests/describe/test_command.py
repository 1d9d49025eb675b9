"""`gspmc describe` end to end (OpenAI backend against a local server): store, resume after an
interrupted run, --force, and a corrupt store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from describe_helpers import FakeOpenAI, good_reply
from signal_helpers import SignalAtGloss

from gspmc.cli import main
from gspmc.describe.store import load_store

GLOSSES = ["coffee", "tea", "water", "muffin", "java", "b"]


def args(vocab: Path, kb: Path, out: Path, url: str, *extra: str) -> list[str]:
    return ["describe", "--vocab", str(vocab), "--kb", str(kb), "--llm", "openai:fake-model", "--base-url", url,
            "--out", str(out), "--retries", "0", "--concurrency", "1", "--no-progress", *extra]


@pytest.fixture()
def vocab(tmp_path: Path) -> Path:
    path = tmp_path / "classes.txt"
    path.write_text("\n".join(GLOSSES) + "\n")
    return path


def _ignore_sigint() -> None:
    """Start the child as a background job of a non-interactive shell is started: SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_interrupted_run_resumes(fake_openai: FakeOpenAI, tiny_kb: Path, vocab: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str], inherited: str) -> None:
    # "ignored": the process starts with SIGINT ignored, as a job started with `&` by a script (or by a
    # test runner so started) does; Ctrl-C / SIGINT must stop `gspmc describe` all the same
    out = tmp_path / "store.jsonl"
    script = SignalAtGloss(at=3, sig=signal.SIGINT, out=out)
    fake_openai.script = script
    proc = subprocess.Popen([sys.executable, "-m", "gspmc.cli", *args(vocab, tiny_kb, out, fake_openai.url)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
                            preexec_fn=_ignore_sigint if inherited == "ignored" else None)
    script.pid = proc.pid
    script.started.set()
    err_lines = []
    for line in proc.stderr:  # blocks until the process reports the interrupt (or exits)
        err_lines.append(line)
        if "interrupted; finished work is kept" in line:
            break
    script.release.set()  # now let the held request finish; its gloss is never stored
    err_lines += proc.stderr.readlines()
    assert proc.wait(timeout=120) == 130, "".join(err_lines)
    first = load_store(out)
    assert sorted(first.glosses) == ["coffee", "tea"]  # the two glosses finished before the interrupt
    kept = {g: first.get(g).to_json() for g in first.glosses}

    capsys.readouterr()
    assert main(args(vocab, tiny_kb, out, fake_openai.url)) == 0
    summary = capsys.readouterr().out
    assert f"skipped {len(kept)} (already done)" in summary
    final = load_store(out)
    assert sorted(final.glosses) == sorted(GLOSSES)
    for gloss, record in kept.items():  # nothing done before the interrupt was redone or lost
        assert final.get(gloss).to_json() == record
    assert final.header["kb_hit_glosses"] == ["coffee", "java", "tea", "water"]

    # a third run has nothing to do; --force redoes everything
    n_requests = len(fake_openai.requests)
    fake_openai.script = lambda req, n: (200, good_reply(req), 0.0)
    assert main(args(vocab, tiny_kb, out, fake_openai.url)) == 0
    assert len(fake_openai.requests) == n_requests
    assert f"skipped {len(GLOSSES)} (already done)" in capsys.readouterr().out
    assert main(args(vocab, tiny_kb, out, fake_openai.url, "--force")) == 0
    assert "done 6, failed 0, skipped 0" in capsys.readouterr().out


def test_corrupt_store_is_refused_and_kept(fake_openai: FakeOpenAI, tiny_kb: Path, vocab: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "store.jsonl"
    out.write_text('{"format": "gspmc-descriptions", "version": 1, "parts": []}\n{"gloss": "coffee", "stat\n')
    before = out.read_bytes()
    assert main(args(vocab, tiny_kb, out, fake_openai.url)) == 2
    err = capsys.readouterr().err
    assert f"{out}: line 2 is not valid JSON" in err and "left untouched" in err
    assert out.read_bytes() == before and fake_openai.requests == []


def test_bad_arguments_are_clear(tiny_kb: Path, vocab: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.jsonl"
    assert main(["describe", "--vocab", str(vocab), "--kb", str(tiny_kb), "--llm", "gpt", "--out", str(out)]) == 2
    assert "unknown --llm 'gpt'" in capsys.readouterr().err
    assert main(["describe", "--vocab", str(vocab), "--kb", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "knowledge source not found" in capsys.readouterr().err
    assert main(["describe", "--vocab", str(vocab), "--kb", str(tiny_kb), "--out", str(out), "--only", "x"]) == 2
    assert "--only: ['x'] not in" in capsys.readouterr().err
