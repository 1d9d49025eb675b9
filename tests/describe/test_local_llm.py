"""The real local model (SmolLM2-135M-Instruct via llama.cpp / xllamacpp), end to end.

Kept short (few glosses, small max-tokens): the model is weak, so these tests check that the
pipeline handles whatever it says correctly (schema-valid JSON from the grammar; every kept
text passes validation or is the knowledge-base fallback), not that the content is good."""

from __future__ import annotations

from pathlib import Path

import pytest

from gspmc.describe.command import describe_vocab
from gspmc.describe.entry import PARTS
from gspmc.describe.llm import LocalLlamaBackend, smollm2_gguf
from gspmc.describe.pipeline import Describer, PipelineConfig
from gspmc.describe.prompts import load_prompts
from gspmc.describe.store import StoreWriter, load_store, new_header
from gspmc.describe.validate import check_part, check_text, parse_reply
from gspmc.describe.vocab import VocabEntry


@pytest.fixture(scope="module")
def local() -> LocalLlamaBackend:
    backend = LocalLlamaBackend(temperature=0.0, seed=3)
    yield backend
    backend.close()


def test_gguf_is_found() -> None:
    path = smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_replies_follow_the_json_schema(local: LocalLlamaBackend) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
              "required": ["answer"], "additionalProperties": False}
    msgs = [{"role": "user", "content": "Is a fist a closed hand? Answer as JSON."}]
    reply = local.chat(msgs, schema, max_tokens=20)
    assert parse_reply(reply.text, schema)["answer"] in ("yes", "no")
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert local.chat(msgs, schema, max_tokens=20).text == reply.text  # temperature 0, fixed seed


@pytest.mark.slow
def test_pipeline_end_to_end(local: LocalLlamaBackend, tiny_index, tmp_path: Path) -> None:  # noqa: ANN001
    prompts = load_prompts()
    cfg = PipelineConfig(max_tokens=120, format_retries=0, top_k=1, n_synonyms=1)
    describer = Describer(local, tiny_index, prompts, cfg)
    out = tmp_path / "store.jsonl"
    writer = StoreWriter(out, new_header(backend=local.name, model=local.model, template_hash=prompts.hash))
    vocab = [VocabEntry("coffee", "coffee"), VocabEntry("muffin", "muffin"), VocabEntry("-", "-")]
    summary = describe_vocab(vocab, describer, writer, progress=False)
    assert summary.done + summary.failed == 3 and summary.tokens > 0

    store = load_store(out)
    assert store.glosses == ["coffee", "muffin", "-"]
    coffee = store.get("coffee")
    entry = tiny_index.entries[0]
    assert coffee.status == "ok" and coffee.provenance["kb_hit"] is True
    assert coffee.provenance["model"] == smollm2_gguf().name
    assert (coffee.provenance["temperature"], coffee.provenance["seed"]) == (0.0, 3)
    paths = coffee.provenance["paths"]
    for text in coffee.global_:
        assert check_text(text, entry, "global") == [] if paths["global"] == "llm" else text == entry.description
    for text in coffee.synonyms:
        assert check_text(text, entry, "synonym") == [] if paths["synonyms"] == "llm" else text == entry.paraphrase
    for part in PARTS:
        for text in coffee.parts[part]:
            if paths[part] == "llm":
                assert check_part(text, part, entry) == []
            else:
                assert paths[part] == "kb-fallback" and text in entry.parts[part]

    muffin = store.get("muffin")  # no knowledge-base entry: only validated texts, or failed
    assert muffin.provenance["kb_hit"] is False
    if muffin.status == "ok":
        assert muffin.provenance["paths"]["global"] == "llm"
        assert check_text(muffin.global_[0], None, "global") == []
    else:
        assert muffin.global_ == [] and muffin.synonyms == []
    assert store.get("-").provenance["paths"]["global"] == "builtin"
