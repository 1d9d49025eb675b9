"""`gspmc describe --part K/N` and `--vocab-size N`: several answerers share one vocabulary by gloss range.

A request's id is a hash of its messages, so a gloss's prompts must be the same whether it is described in a
part run or in the whole-vocabulary run (neighbours from the whole vocabulary); the answers of the part runs,
concatenated, then let the whole-vocabulary run build the store without a single new request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gspmc.cli import main
from gspmc.describe.command import part_slice, select_glosses
from gspmc.describe.store import load_store
from gspmc.describe.vocab import VocabEntry

GLOSSES = ["coffee", "tea", "water", "muffin"]

REPLIES = {
    "Describe how": {"description": "The right hand makes a fist and circles twice over the left fist, "
                                    "touching its thumb side."},
    "paraphrases": {"paraphrases": ["A closed right hand moves in small circles on top of the left fist.",
                                    "The right fist rubs in a circle over the thumb side of the left fist."]},
    "Rewrite the description": {"description": "The right fist circles twice over the left fist, touching "
                                               "the thumb side of the left hand."},
    "Write short texts": {"left_hand": ["The left hand is a still fist, thumb side up."],
                          "right_hand": ["The right fist circles on the left fist."],
                          "body": [], "face": [], "mouth": []},
}


def requests(exchange: Path) -> dict[str, dict]:
    path = exchange.with_name(exchange.name + ".requests.jsonl")
    return {(r := json.loads(line))["id"]: r for line in path.read_text(encoding="utf-8").splitlines()}


def answer_all(exchange: Path) -> int:
    """Answer every pending request of this exchange (a stand-in for the answering model)."""
    ans = exchange.with_name(exchange.name + ".answers.jsonl")
    done = {json.loads(x)["id"] for x in ans.read_text().splitlines()} if ans.is_file() else set()
    n = 0
    with ans.open("a") as f:
        for rid, req in requests(exchange).items():
            if rid not in done:
                user = req["messages"][1]["content"]
                reply = next(v for k, v in REPLIES.items() if k in user)
                f.write(json.dumps({"id": rid, "answer": json.dumps(reply), "by": "model-x"}) + "\n")
                n += 1
    return n


@pytest.fixture()
def vocab(tmp_path: Path) -> Path:
    path = tmp_path / "classes.txt"
    path.write_text("\n".join(GLOSSES) + "\n")
    return path


def describe(vocab: Path, kb: Path, exchange: Path, out: Path, *extra: str) -> int:
    return main(["describe", "--vocab", str(vocab), "--kb", str(kb), "--index-dir", str(kb.parent / "index"),
                 "--llm", f"file:{exchange}", "--out", str(out), "--no-progress", *extra])


def p1_of(exchange: Path, query: str) -> dict:
    found = [r for r in requests(exchange).values() if f'sign "{query}" is made' in r["messages"][1]["content"]]
    assert len(found) == 1
    return found[0]


def test_part_slices_cover_the_vocabulary_once() -> None:
    for n_glosses, n in [(250, 5), (300, 6), (500, 10), (7, 3), (4, 4)]:
        covered = [i for k in range(1, n + 1) for i in range(n_glosses)[part_slice(n_glosses, k, n)]]
        assert covered == list(range(n_glosses))
    assert part_slice(250, 2, 5) == slice(50, 100)
    vocab = [VocabEntry(g, g) for g in GLOSSES]
    assert [v.gloss for v in select_glosses(vocab, part="2/2")] == ["water", "muffin"]
    assert [v.gloss for v in select_glosses(vocab, part="1/2", only=["tea", "water"])] == ["tea"]


def test_part_requests_are_those_of_the_whole_run(vocab: Path, tiny_kb: Path, tmp_path: Path) -> None:
    whole, part = tmp_path / "ex" / "v.model-x", tmp_path / "ex" / "v.model-x-part1"
    assert describe(vocab, tiny_kb, whole, tmp_path / "whole.jsonl") == 0
    assert describe(vocab, tiny_kb, part, tmp_path / "part1.jsonl", "--part", "1/2") == 0
    # the part run asked for coffee and tea only ...
    assert {load_store(tmp_path / "part1.jsonl").glosses[i] for i in (0, 1)} == {"coffee", "tea"}
    assert len(load_store(tmp_path / "part1.jsonl")) == 2 and len(requests(part)) == 2
    # ... with exactly the messages (and ids) of the whole-vocabulary run: water, outside the part, is still
    # one of coffee's neighbours
    for query in ("coffee", "tea"):
        assert p1_of(part, query) == p1_of(whole, query)
    assert '"water"' in p1_of(part, "coffee")["messages"][1]["content"]
    header = load_store(tmp_path / "part1.jsonl").header
    assert header["part"] == "1/2" and header["part_glosses"] == ["coffee", "tea"] and header["vocab_size"] == 4
    # --only and --limit select glosses too, without changing their prompts
    only = tmp_path / "ex" / "v.only"
    assert describe(vocab, tiny_kb, only, tmp_path / "only.jsonl", "--only", "coffee") == 0
    assert describe(vocab, tiny_kb, only, tmp_path / "only.jsonl", "--limit", "1") == 0
    assert list(requests(only).values()) == [p1_of(whole, "coffee")]


def test_vocab_size_defines_the_vocabulary(vocab: Path, tiny_kb: Path, tmp_path: Path) -> None:
    first2 = tmp_path / "first2.txt"
    first2.write_text("coffee\ntea\n")
    a, b = tmp_path / "ex" / "a", tmp_path / "ex" / "b"
    assert describe(vocab, tiny_kb, a, tmp_path / "a.jsonl", "--vocab-size", "2") == 0
    assert describe(first2, tiny_kb, b, tmp_path / "b.jsonl") == 0
    assert list(requests(a)) == list(requests(b))  # the same prompts as a file with only those classes
    assert '"water"' not in p1_of(a, "coffee")["messages"][1]["content"]
    store = load_store(tmp_path / "a.jsonl")
    assert store.glosses == ["coffee", "tea"] and store.header["vocab_size"] == 2


def test_parts_answered_apart_build_the_whole_store(vocab: Path, tiny_kb: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ex = tmp_path / "ex"
    for k in (1, 2):  # each answerer: run, answer, rerun ... until its part is done
        prefix, out = ex / f"v.model-x-part{k}", tmp_path / f"part{k}.jsonl"
        for _ in range(8):
            assert describe(vocab, tiny_kb, prefix, out, "--part", f"{k}/2") == 0
            if all(r.status == "ok" for r in load_store(out).records.values()):
                break
            assert answer_all(prefix) > 0
        assert all(r.status == "ok" for r in load_store(out).records.values())
    answers = ex / "v.model-x.answers.jsonl"
    answers.write_text("".join((ex / f"v.model-x-part{k}.answers.jsonl").read_text() for k in (1, 2)))
    capsys.readouterr()
    final = tmp_path / "final.jsonl"
    assert describe(vocab, tiny_kb, ex / "v.model-x", final) == 0
    assert "done 4, failed 0" in capsys.readouterr().out
    assert not (ex / "v.model-x.requests.jsonl").exists()  # no new request: every one was answered in a part
    store = load_store(final)
    assert store.glosses == GLOSSES and "part" not in store.header
    assert store.header["model"] == "file-exchange:model-x"
    for k in (1, 2):  # the texts are those of the part stores
        for gloss, rec in load_store(tmp_path / f"part{k}.jsonl").records.items():
            assert store.get(gloss).global_ == rec.global_ and store.get(gloss).parts == rec.parts
            assert store.get(gloss).provenance["requests"] == rec.provenance["requests"]


def test_bad_part_and_vocab_size(vocab: Path, tiny_kb: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.jsonl"
    base = ["describe", "--vocab", str(vocab), "--kb", str(tiny_kb), "--llm", "none", "--out", str(out),
            "--no-progress"]
    for spec in ("3/2", "0/2", "x", "1/5"):
        assert main([*base, "--part", spec]) == 2
        assert "--part" in capsys.readouterr().err
    assert main([*base, "--vocab-size", "5"]) == 2
    err = capsys.readouterr().err
    assert "--vocab-size 5" in err and "has 4 classes" in err
    assert main([*base, "--part", "2/2", "--only", "coffee"]) == 2
    assert "none of ['coffee'] is in --part 2/2" in capsys.readouterr().err
    assert not out.exists()
