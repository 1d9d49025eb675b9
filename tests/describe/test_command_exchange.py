"""`gspmc describe` with the file exchange (the path a capable model without an API here takes), without
retrieval (--no-kb), and the knowledge-base rendering (--llm none)."""

from __future__ import annotations

import json
from pathlib import Path

from gspmc.cli import main
from gspmc.describe.store import load_store

ANSWERS = {
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


def answer_pending(exchange: Path, by: str) -> int:
    """Answer every request not answered yet (as a model would), appending to the answers file."""
    req_file = exchange.with_name(exchange.name + ".requests.jsonl")
    ans_file = exchange.with_name(exchange.name + ".answers.jsonl")
    done = {json.loads(x)["id"] for x in ans_file.read_text().splitlines()} if ans_file.is_file() else set()
    n = 0
    with ans_file.open("a") as f:
        for line in req_file.read_text().splitlines():
            req = json.loads(line)
            if req["id"] in done:
                continue
            user = req["messages"][1]["content"]
            reply = next(v for k, v in ANSWERS.items() if k in user)
            f.write(json.dumps({"id": req["id"], "answer": json.dumps(reply), "by": by}) + "\n")
            n += 1
    return n


def test_file_exchange_rounds_without_retrieval(tmp_path: Path, capsys) -> None:
    vocab = tmp_path / "classes.txt"
    vocab.write_text("coffee\n")
    exchange, out = tmp_path / "ex" / "tiny.model-x", tmp_path / "tiny.model-x.jsonl"
    cmd = ["describe", "--vocab", str(vocab), "--no-kb", "--llm", f"file:{exchange}", "--out", str(out),
           "--no-progress", "--note", "no dictionary for this language"]
    rounds = 0
    while True:  # one step per round: P1, then P2, then P3, then P4
        assert main(cmd) == 0
        if load_store(out).get("coffee").status == "ok":
            break
        rounds += 1
        assert answer_pending(exchange, "model-x") == 1 and rounds <= 4
    assert rounds == 4
    store = load_store(out)
    rec = store.get("coffee")
    assert store.header["backend"] == "file" and store.header["model"] == "file-exchange:model-x"
    assert store.header["kb_sources"] == [] and store.header["grounding"].startswith("none")
    assert store.header["note"] == "no dictionary for this language" and store.header["template_version"] == 2
    assert store.header["exchange"]["answers"].endswith("tiny.model-x.answers.jsonl")
    # every text is a parsed answer, and provenance names the answers it came from
    assert rec.global_ == [ANSWERS["Rewrite the description"]["description"]]
    assert rec.synonyms == ANSWERS["paraphrases"]["paraphrases"]
    assert rec.parts["right_hand"] == ANSWERS["Write short texts"]["right_hand"]
    answered = {json.loads(x)["id"] for x in exchange.with_name(exchange.name + ".answers.jsonl").read_text().splitlines()}
    used = {rid for ids in rec.provenance["requests"].values() for rid in ids}
    assert used == answered and len(used) == 4
    assert rec.provenance["paths"]["global"] == "llm" and rec.provenance["kb_hit"] is False
    printed = capsys.readouterr().out
    assert "| coffee | ok | llm | llm | llm | llm | llm | - | - | - |" in printed


def test_sources_must_be_explicit(tmp_path: Path, capsys) -> None:
    vocab = tmp_path / "classes.txt"
    vocab.write_text("coffee\n")
    base = ["describe", "--vocab", str(vocab), "--out", str(tmp_path / "s.jsonl"), "--no-progress"]
    assert main([*base, "--llm", "none"]) == 2
    assert "give the knowledge base with --kb (repeatable), or --no-kb" in capsys.readouterr().err
    assert main([*base, "--llm", "none", "--no-kb"]) == 2
    assert "--llm none renders knowledge-base entries as texts: it needs --kb" in capsys.readouterr().err
    assert not (tmp_path / "s.jsonl").exists()


def test_llm_none_renders_the_dictionary(tmp_path: Path, tiny_kb: Path, capsys) -> None:
    vocab = tmp_path / "classes.txt"
    vocab.write_text("coffee\nmuffin\n")
    out = tmp_path / "kb.jsonl"
    assert main(["describe", "--vocab", str(vocab), "--kb", str(tiny_kb), "--llm", "none", "--out", str(out),
                 "--no-progress"]) == 0
    store = load_store(out)
    assert store.header["backend"] == "none" and store.get("coffee").status == "ok"
    assert store.get("muffin").status == "failed"  # no entry, no model: nothing to write
    assert "| coffee | ok | kb | kb | kb | kb | kb | - | - | - |" in capsys.readouterr().out
