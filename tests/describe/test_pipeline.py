"""P1-P4 with guard rails, driven through the OpenAI backend against a local server."""

from __future__ import annotations

import json

from describe_helpers import GOOD, FakeOpenAI, completion, good_reply, step_of

from gspmc.describe.llm import OpenAIBackend
from gspmc.describe.pipeline import IDLE_DESCRIPTION, Describer, PipelineConfig
from gspmc.describe.prompts import load_prompts
from gspmc.describe.vocab import VocabEntry


def make(server: FakeOpenAI, index, **cfg) -> Describer:  # noqa: ANN001
    backend = OpenAIBackend("fake-model", base_url=server.url, timeout=5, max_retries=0, sleep=lambda s: None)
    return Describer(backend, index, load_prompts(), PipelineConfig(**cfg))


def test_good_replies_are_kept_and_checked(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    desc, tokens = make(fake_openai, tiny_index).describe(VocabEntry("coffee", "coffee"))
    assert desc.status == "ok"
    assert [step_of(r) for r in fake_openai.requests] == ["p1", "p2", "p3", "p4"]
    assert tokens == 4 * 15
    assert desc.global_ == [GOOD["p1"]]
    # the second paraphrase says "S hand", not one of the entry's handshape terms: rejected
    assert desc.synonyms == [GOOD["p2"][0]]
    assert "drops the entry's handshape terms" in desc.provenance["rejected"]["synonyms"][0]
    assert desc.parts["right_hand"] == GOOD["p4"]["right_hand"]
    assert desc.parts["left_hand"] == GOOD["p4"]["left_hand"]
    prov = desc.provenance
    assert prov["kb_hit"] is True and prov["kb_entry"] == "tiny-dictionary:coffee"
    assert prov["kb_ids"][0] == "tiny-dictionary:coffee"
    assert (prov["backend"], prov["model"]) == ("openai", "fake-model")
    assert prov["paths"]["global"] == "llm" and prov["paths"]["right_hand"] == "llm"
    assert prov["paths"]["face"] == "none"
    # P1 was grounded: the entry text is in the prompt
    assert "the right S hand (fist) circles" in fake_openai.requests[0]["messages"][1]["content"]


def test_malformed_reply_is_fed_back_then_falls_back(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    def script(req, n):  # noqa: ANN001, ANN202
        if step_of(req) == "p1" or req["messages"][-1]["content"].startswith("Your reply was not valid"):
            return 200, completion("Sure! The sign is made with a fist."), 0
        return 200, good_reply(req), 0

    fake_openai.script = script
    desc, _ = make(fake_openai, tiny_index, format_retries=2).describe(VocabEntry("coffee", "coffee"))
    p1 = [r for r in fake_openai.requests if "Describe how" in r["messages"][1]["content"]]
    assert len(p1) == 3  # first try + 2 retries
    retry = p1[1]["messages"]
    assert retry[2] == {"role": "assistant", "content": "Sure! The sign is made with a fist."}
    assert "not valid: the reply contains no JSON object" in retry[3]["content"]
    assert desc.status == "ok"
    assert desc.provenance["paths"]["primary"] == "kb-fallback"
    assert len(desc.provenance["errors"]) == 3
    # the malformed text is nowhere in the record
    assert "Sure!" not in json.dumps(desc.to_json())


def test_no_entry_and_malformed_replies_fail_the_gloss(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    fake_openai.script = lambda req, n: (200, completion('{"description": 12}'), 0)
    desc, _ = make(fake_openai, tiny_index, format_retries=1).describe(VocabEntry("muffin", "muffin"))
    assert desc.status == "failed"
    assert desc.global_ == [] and desc.synonyms == [] and all(v == [] for v in desc.parts.values())
    assert desc.provenance["kb_hit"] is False
    assert "schema" in desc.provenance["errors"][0]


def test_nonsense_is_rejected_for_the_entry_text(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    def script(req, n):  # noqa: ANN001, ANN202
        step = step_of(req)
        obj = {"p1": {"description": "john"}, "p2": {"paraphrases": ["john smith"]},
               "p3": {"description": "Coffee is a popular drink that many people enjoy every morning."},
               "p4": {"left_hand": [], "right_hand": ["john"], "body": [], "face": ["The face smiles happily."],
                      "mouth": []}}[step]
        return 200, completion(json.dumps(obj)), 0

    fake_openai.script = script
    desc, _ = make(fake_openai, tiny_index).describe(VocabEntry("coffee", "coffee"))
    entry = tiny_index.entries[0]
    assert desc.status == "ok"
    assert desc.global_ == [entry.description]
    assert desc.synonyms == [entry.paraphrase]
    assert desc.parts["right_hand"] == list(entry.parts["right_hand"])
    assert desc.parts["face"] == []  # the entry does not involve the face
    paths = desc.provenance["paths"]
    assert (paths["primary"], paths["global"], paths["synonyms"], paths["right_hand"]) == ("kb-fallback",) * 4
    rejected = desc.provenance["rejected"]
    assert rejected["primary"][0].startswith("too short")
    assert "names no articulator" in rejected["global"][0]
    assert "does not involve the face" in rejected["face"][0]


def test_idle_class_needs_no_llm(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    desc, tokens = make(fake_openai, tiny_index).describe(VocabEntry("-", "-"))
    assert fake_openai.requests == [] and tokens == 0
    assert desc.global_ == IDLE_DESCRIPTION["global"]
    assert desc.provenance["paths"]["global"] == "builtin" and desc.provenance["idle"] is True


def test_transport_error_fails_the_gloss(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    fake_openai.script = lambda req, n: (500, {"error": {"message": "down"}}, 0)
    desc, _ = make(fake_openai, tiny_index).describe(VocabEntry("coffee", "coffee"))
    assert desc.status == "failed" and desc.global_ == []
    assert "no reply after 1 attempts" in desc.provenance["error"]


def test_left_dominant_swaps_sides(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    fake_openai.script = lambda req, n: (200, completion("{}"), 0)
    desc, _ = make(fake_openai, tiny_index, dominant_hand="left", format_retries=0).describe(
        VocabEntry("coffee", "coffee"))
    assert desc.global_ == ["The left hand forms a fist and moves in a circle on the thumb side of the right fist."]
    assert desc.parts["left_hand"] == ["Left hand: a fist circling on the right fist."]
    assert desc.parts["right_hand"] == ["Right hand: a still fist, thumb side up."]


def test_v2_prompts_show_the_vocabulary_neighbours(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    """prepare() finds the other glosses' own entries; P1 and P3 show them, P2 and P4 do not."""
    d = make(fake_openai, tiny_index, neighbours=2)
    vocab = [VocabEntry("coffee", "coffee"), VocabEntry("tea", "tea"), VocabEntry("water", "water"),
             VocabEntry("muffin", "muffin"), VocabEntry("-", "-")]
    nb = d.prepare(vocab)
    assert [n.gloss for n in nb["coffee"]] and set(n.gloss for n in nb["coffee"]) <= {"tea", "water"}
    assert "coffee" not in [n.gloss for n in nb["coffee"]]  # never its own neighbour
    assert "muffin" not in {n.gloss for ns in nb.values() for n in ns}  # no entry: nothing to contrast with
    assert "-" not in nb  # the idle class is not described by the model
    desc, _ = d.describe(VocabEntry("coffee", "coffee"))
    users = {step_of(r): r["messages"][1]["content"] for r in fake_openai.requests}
    first = nb["coffee"][0]
    for step in ("p1", "p3"):
        assert f'[N1] "{first.query}": ' in users[step]
        assert first.entry.text[:30] in users[step] or (first.entry.description or "")[:30] in users[step]
    assert "[N1]" not in users["p2"] and "[N1]" not in users["p4"]
    assert desc.provenance["neighbours"] == [n.gloss for n in nb["coffee"]]


def test_request_ids_in_provenance_match_what_was_sent(fake_openai: FakeOpenAI, tiny_index) -> None:  # noqa: ANN001
    from gspmc.describe.llm import request_id

    desc, _ = make(fake_openai, tiny_index).describe(VocabEntry("coffee", "coffee"))
    sent = [request_id(r["messages"]) for r in fake_openai.requests]
    recorded = [rid for step in ("p1_primary", "p2_synonyms", "p3_refine", "p4_parts")
                for rid in desc.provenance["requests"][step]]
    assert recorded == sent


def test_none_backend_renders_the_knowledge_base(tiny_index) -> None:  # noqa: ANN001
    """--llm none: no model, every text is the entry rendered (kb-fallback); no entry: failed."""
    from gspmc.describe.llm import make_backend

    d = Describer(make_backend("none"), tiny_index, load_prompts(), PipelineConfig())
    desc, tokens = d.describe(VocabEntry("coffee", "coffee"))
    assert tokens == 0 and desc.status == "ok"
    assert desc.global_ == ["The right hand forms a fist and moves in a circle on the thumb side of the left fist."]
    assert desc.synonyms == ["A right fist circles over a left fist."]
    assert desc.parts["left_hand"] == ["Left hand: a still fist, thumb side up."]
    assert {desc.provenance["paths"][k] for k in ("primary", "global", "synonyms", "left_hand")} == {"kb-fallback"}
    assert desc.provenance["requests"] == {} and desc.provenance["llm_calls"] == 0
    failed, _ = d.describe(VocabEntry("muffin", "muffin"))
    assert failed.status == "failed"


def test_own_entry_is_the_one_named_like_the_gloss_and_listed_first() -> None:
    """An entry that only lists the gloss among its headwords (WHY_NOT lists "not") may outrank the
    gloss's own entry (NOT); the own entry is the one whose name is the gloss, and it is listed first."""
    from gspmc.describe.entry import KBEntry
    from gspmc.describe.pipeline import Describer, PipelineConfig
    from gspmc.describe.retrieval import Hit
    from gspmc.describe.vocab import VocabEntry

    why_not = KBEntry("kb:why_not", "kb", "WHY NOT", headwords=("why not", "not"))
    deny = KBEntry("kb:deny", "kb", "DENY", headwords=("deny",))
    own = KBEntry("kb:not", "kb", "NOT", headwords=("not",))

    class RankedIndex:  # the retrieval's own ranking, as the real index returned it for ASL-LEX's "not"
        def search(self, query: str, k: int, gloss: list[str]) -> list[Hit]:
            return [Hit(why_not, 3.0, 0, 0, "translation"), Hit(deny, 1.0, 1, 2, None), Hit(own, 0.9, 2, 1, "name")]

    hits, entry = Describer(None, RankedIndex(), None, PipelineConfig())._retrieve(VocabEntry("not", "not"))
    assert entry is own
    assert [h.entry.id for h in hits] == ["kb:not", "kb:why_not", "kb:deny"]
