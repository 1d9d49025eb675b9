"""GSPMCObjective (Eq. 11-12): sampling, part mapping, masking, switches, gradients, from_config."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

from gspmc.errors import ConfigError
from gspmc.losses import GSPMCObjective, MCOptions, default_part_map, resolve_part_map, total_loss
from gspmc.models.ctrgcn import Features
from gspmc.pose.layouts import get_layout
from gspmc.text.bank import KindBank, TextBank
from gspmc.text.cache import EmbeddingCache, save_cache, text_hash
from gspmc.text.encoders import get_text_encoder

PARTS = ("left_hand", "right_hand", "body", "face", "mouth")
MODEL_PARTS_55 = ("body", "left_hand", "right_hand")  # gspmc-55
CLASSES = ("a", "b", "c", "d")
# texts per kind and class index; class 3 ("d") has no global text, class 1 no synonym, ...
SPEC = {
    "global": {0: ["ga0", "ga1"], 1: ["gb0"], 2: ["gc0", "gc1", "gc2"]},
    "synonym": {0: ["sa0"], 2: ["sc0", "sc1"], 3: ["sd0"]},
    "left_hand": {0: ["la0"], 1: ["lb0"]},
    "right_hand": {0: ["ra0", "ra1"], 2: ["rc0"], 3: ["rd0"]},
    "body": {1: ["bb0"]},
    "face": {0: ["smile"], 3: ["fd0"]},
    "mouth": {0: ["smile"], 2: ["mc0"]},  # "smile" of class a is also a face text: one row after mapping
}
DIM = 6


def make_bank(seed: int = 0, spec: dict | None = None, classes: tuple[str, ...] = CLASSES) -> TextBank:
    """A bank of the texts in ``spec`` (kind -> class -> texts; default SPEC), one fixed vector per text."""
    spec = SPEC if spec is None else spec
    rng = np.random.default_rng(seed)
    vec = {}  # one fixed vector per distinct text
    kinds = {}
    for kind in ("global", "synonym", *PARTS):
        per_class = spec.get(kind, {})
        texts, labels = [], []
        for c in sorted(per_class):
            for t in per_class[c]:
                texts.append(t)
                labels.append(c)
                vec.setdefault(t, rng.standard_normal(DIM).astype(np.float32))
        emb = np.stack([vec[t] for t in texts]) if texts else np.zeros((0, DIM), np.float32)
        kinds[kind] = KindBank(emb, np.asarray(labels, np.int64), tuple(texts))
    return TextBank(classes, "test", DIM, PARTS, kinds)


def owners(member: torch.Tensor) -> list[list[int]]:
    """(M, K) bool class masks -> the class indices of each text."""
    return [torch.nonzero(row).flatten().tolist() for row in member]


def texts_of(obj: GSPMCObjective, emb: torch.Tensor) -> list[str]:
    """Map embedding rows back to their text names."""
    names = []
    for row in emb:
        for kb in obj.bank.kinds.values():
            hit = [t for t, e in zip(kb.texts, kb.embeddings, strict=True) if np.allclose(e, row.numpy())]
            if hit:
                names.append(hit[0])
                break
    return names


@pytest.fixture
def obj() -> GSPMCObjective:
    torch.manual_seed(0)
    return GSPMCObjective(make_bank(), feature_dim=5, model_parts=MODEL_PARTS_55, seed=0).double()


def feats(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 5, generator=g, dtype=torch.float64),
            torch.randn(n, len(MODEL_PARTS_55), 5, generator=g, dtype=torch.float64))


def test_default_part_map():
    assert default_part_map(PARTS, MODEL_PARTS_55) == {"left_hand": "left_hand", "right_hand": "right_hand",
                                                       "body": "body", "face": "body", "mouth": "body"}
    assert default_part_map(PARTS, ("body", "left_hand", "right_hand", "mouth", "face")) == dict(zip(PARTS, PARTS, strict=True))
    assert default_part_map(PARTS, ("body", "left_hand", "right_hand", "face"))["mouth"] == "face"
    assert default_part_map(PARTS, ("hands",)) == dict.fromkeys(PARTS)
    m = resolve_part_map(PARTS, MODEL_PARTS_55, {"mouth": None, "face": "right_hand"})
    assert m["mouth"] is None and m["face"] == "right_hand"
    with pytest.raises(ConfigError, match="not a part of the model layout"):
        resolve_part_map(PARTS, MODEL_PARTS_55, {"face": "face"})
    with pytest.raises(ConfigError, match="not a description part"):
        resolve_part_map(PARTS, MODEL_PARTS_55, {"tail": "body"})


def test_part_banks_follow_the_map(obj):
    body = owners(obj.get_buffer("part_body_member"))
    assert body == [[0], [1], [2], [3]]  # a: "smile" (face = mouth, kept once), b: body, c: mouth, d: face
    assert texts_of(obj, obj.get_buffer("part_body_emb").float()) == ["smile", "bb0", "mc0", "fd0"]
    assert owners(obj.get_buffer("part_right_hand_member")) == [[0], [0], [2], [3]]
    assert set(obj.part_heads) == set(MODEL_PARTS_55)
    assert obj.active_terms == ["global", "synonym", "part_body", "part_left_hand", "part_right_hand"]


def test_sampling_one_text_of_own_class_uniform_and_deterministic(obj):
    labels = torch.tensor([0, 2, 3, 1, 2])
    emb, member = obj.sample_texts("global", labels, torch.Generator().manual_seed(5))
    assert owners(member) == [[0], [2], [1], [2]]  # class 3 has no global text: its sample draws none
    names = texts_of(obj, emb.float())
    assert [n[1] for n in names] == ["a", "c", "b", "c"]
    emb2, _ = obj.sample_texts("global", labels, torch.Generator().manual_seed(5))
    assert torch.equal(emb, emb2)
    gen = torch.Generator().manual_seed(0)
    counts = Counter()
    for _ in range(300):
        e, _ = obj.sample_texts("global", torch.tensor([2]), gen)
        counts.update(texts_of(obj, e.float()))
    assert set(counts) == {"gc0", "gc1", "gc2"} and min(counts.values()) > 70  # ~100 each
    _, member = obj.sample_texts("synonym", torch.tensor([-1, 1, 3]), gen)
    assert owners(member) == [[3]]  # unknown label and a class without synonyms draw nothing


def test_forward_matches_reference(obj, reference):
    labels = torch.tensor([0, 0, 1, 2, 3, 2])
    gf, pf = feats(6)
    out = obj((gf, pf), labels, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)  # the same draws, in the same order (global, then synonym)
    z = obj.global_head(gf).detach()
    tau = obj.contrastive.tau
    for kind in ("global", "synonym"):
        text, member = obj.sample_texts(kind, labels, gen)
        exp = reference(z.tolist(), text.tolist(), labels.tolist(), owners(member), tau)
        assert out[kind].item() == pytest.approx(exp, rel=1e-9)
    for j, part in enumerate(MODEL_PARTS_55):
        zp = obj.part_heads[part](pf[:, j]).detach()
        bank_own = owners(obj.get_buffer(f"part_{part}_member"))
        bank_emb = obj.get_buffer(f"part_{part}_emb")
        keep = [i for i, cs in enumerate(bank_own) if set(cs) & set(labels.tolist())]
        exp = reference(zp.tolist(), bank_emb[keep].tolist(), labels.tolist(), [bank_own[i] for i in keep], tau)
        assert out[f"part_{part}"].item() == pytest.approx(exp, rel=1e-9)
    terms = [out[k] for k in obj.active_terms]
    assert out["multi"].item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-12)  # Eq. 11
    assert int(out["n_terms"]) == 5
    ce = torch.tensor(1.25, dtype=torch.float64)
    assert obj.total(ce, out).item() == pytest.approx(1.25 + 0.5 * out["multi"].item())  # Eq. 12
    assert total_loss(ce, out["multi"], alpha=2.0).item() == pytest.approx(1.25 + 2 * out["multi"].item())


def test_part_texts_only_of_the_batch_classes(obj, reference):
    labels = torch.tensor([0, 2, 0])
    gf, pf = feats(3, seed=4)
    out = obj((gf, pf), labels)
    # left_hand: only a's text (b is not in the batch); the reference with exactly those texts
    zp = obj.part_heads["left_hand"](pf[:, 1]).detach()
    emb = obj.get_buffer("part_left_hand_emb")[:1]
    exp = reference(zp.tolist(), emb.tolist(), labels.tolist(), [0], obj.contrastive.tau)
    assert out["part_left_hand"].item() == pytest.approx(exp, rel=1e-9)


def test_classes_without_text_contribute_no_term(obj):
    gf, pf = feats(3)
    out = obj((gf, pf), torch.tensor([3, 3, 3]))  # "d": no global, no left_hand text
    assert "global" not in out and "part_left_hand" not in out
    assert {"synonym", "part_body", "part_right_hand"} <= set(out)
    assert out["multi"].item() == pytest.approx(
        (out["synonym"] + out["part_body"] + out["part_right_hand"]).item() / 3, rel=1e-12)
    empty = GSPMCObjective(make_bank(), 5, MODEL_PARTS_55, terms={"synonym": False, "parts": False}).double()
    out = empty((gf, None), torch.tensor([3, 3, 3]))  # nothing active: multi = 0, still differentiable
    assert set(out) == {"multi", "n_terms"} and out["multi"].item() == 0.0
    gf.requires_grad_(True)
    empty.loss_terms(gf, None, torch.tensor([3, 3, 3]))["multi"].backward()
    assert gf.grad is not None


@pytest.mark.parametrize(
    "terms, expected",
    [
        ({"global": False, "synonym": False, "parts": False}, []),  # CE only
        ({"global": False, "synonym": True, "parts": False}, ["synonym"]),
        ({"global": True, "synonym": False, "parts": False}, ["global"]),
        ({"global": False, "synonym": False, "parts": True}, ["part_body", "part_left_hand", "part_right_hand"]),
        ({"global": True, "synonym": True, "parts": False}, ["global", "synonym"]),
    ],
)
def test_term_switches_are_the_ablation_rows(terms, expected):
    o = GSPMCObjective(make_bank(), 5, MODEL_PARTS_55, terms=terms)
    assert o.active_terms == expected
    assert (o.global_head is None) == (not (terms["global"] or terms["synonym"]))
    assert len(o.part_heads) == (3 if terms["parts"] else 0)
    gf, pf = feats(6)
    out = o((gf.float(), pf.float()), torch.tensor([0, 0, 1, 2, 3, 2]))
    assert sorted(k for k in out if k not in ("multi", "n_terms")) == sorted(expected)


def test_gradients_reach_heads_and_tau_not_bank():
    o = GSPMCObjective(make_bank(), 5, MODEL_PARTS_55, learnable_tau=True)
    gf, pf = feats(6)
    gf, pf = gf.float().requires_grad_(True), pf.float().requires_grad_(True)
    o((gf, pf), torch.tensor([0, 0, 1, 2, 3, 2]))["multi"].backward()
    for name, p in o.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert gf.grad.abs().sum() > 0 and pf.grad.abs().sum() > 0
    assert all(not b.requires_grad for b in o.buffers())
    assert not any(k.endswith(("_emb", "_member", "_rows", "_count", "_start")) for k in o.state_dict())  # bank not saved


def test_training_the_heads_lowers_the_loss(one_thread):
    torch.manual_seed(0)
    o = GSPMCObjective(make_bank(), 5, MODEL_PARTS_55)
    gf, pf = feats(8, seed=9)
    gf, pf = gf.float(), pf.float()
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = torch.optim.Adam(o.parameters(), lr=0.1)
    first = None
    for step in range(25):
        loss = o((gf, pf), labels, generator=torch.Generator().manual_seed(step))["multi"]
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_bad_inputs(obj):
    gf, pf = feats(2)
    with pytest.raises(ValueError, match="out of range"):
        obj((gf, pf), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="part_feats"):
        obj((gf, pf[:, :2]), torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="unknown terms"):
        GSPMCObjective(make_bank(), 5, MODEL_PARTS_55, terms={"prompt": True})


# ---------------------------------------------------------------------------------------------
# texts that several signs share (Eq. 9 with a set of labels per text)


def shared_bank(texts_by_class: dict[int, list[str]], n_classes: int = 3, seed: int = 0) -> TextBank:
    """The same texts per class as global and body texts, nothing else."""
    return make_bank(seed, {"global": texts_by_class, "body": texts_by_class}, tuple("abc"[:n_classes]))


SHARED = {0: ["upright", "a0"], 1: ["upright", "b0"], 2: ["c0"]}  # "upright" is written for signs 0 and 1


@pytest.mark.parametrize("mode, rows", [
    ("merge", [("upright", [0, 1]), ("a0", [0]), ("b0", [1]), ("c0", [2])]),
    ("drop", [("a0", [0]), ("b0", [1]), ("c0", [2])]),
    ("keep", [("upright", [0]), ("a0", [0]), ("upright", [1]), ("b0", [1]), ("c0", [2])]),
])
def test_shared_texts_tables(mode, rows):
    o = GSPMCObjective(shared_bank(SHARED), 5, MODEL_PARTS_55, shared_texts=mode).double()
    for name, buf in (("global", "global"), ("part_body", "part_body")):
        table = o.tables[name]
        assert sorted(zip(table.texts, owners(o.get_buffer(f"{buf}_member")), strict=True)) == sorted(rows)
    assert o.bank.kinds["global"].shared_texts() == {"upright": [0, 1]}


def test_merged_shared_text_is_a_positive_of_every_sign_that_has_it(reference):
    """One batch, the body term: with merge the single "upright" row is positive for clips of both signs 0
    and 1 (hand-checked against the slow reference); with keep its two copies contradict each other."""
    labels = torch.tensor([0, 1, 2, 1])
    gf, pf = feats(4, seed=2)
    for mode in ("merge", "keep", "drop"):
        o = GSPMCObjective(shared_bank(SHARED), 5, MODEL_PARTS_55, shared_texts=mode,
                           terms={"global": False, "synonym": False}).double()
        out = o((gf, pf), labels)
        zp = o.part_heads["body"](pf[:, 0]).detach()
        emb = o.get_buffer("part_body_emb")
        exp = reference(zp.tolist(), emb.tolist(), labels.tolist(), owners(o.get_buffer("part_body_member")),
                        o.contrastive.tau)
        assert out["part_body"].item() == pytest.approx(exp, rel=1e-9), mode
    member = GSPMCObjective(shared_bank(SHARED), 5, MODEL_PARTS_55).get_buffer("global_member")
    assert member.sum(dim=0).tolist() == [2, 2, 1]  # classes 0 and 1 each have "upright" plus their own text


def test_sampling_draws_shared_texts_for_each_of_their_signs():
    o = GSPMCObjective(shared_bank(SHARED), 5, MODEL_PARTS_55)
    gen = torch.Generator().manual_seed(0)
    seen = {0: Counter(), 1: Counter()}
    for _ in range(200):
        for c in (0, 1):
            emb, member = o.sample_texts("global", torch.tensor([c]), gen)
            seen[c].update(texts_of(o, emb))
            assert member[0, c]  # every drawn text is a positive of its sample's sign
    assert set(seen[0]) == {"upright", "a0"} and set(seen[1]) == {"upright", "b0"}
    assert min(min(v.values()) for v in seen.values()) > 60  # ~100 each


def test_near_identical_texts_merge_by_cosine():
    bank = shared_bank({0: ["x0"], 1: ["x1"], 2: ["c0"]})
    kb = bank.kinds["global"]
    e = kb.embeddings.copy()
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    e[1] = e[0] + 0.01 * e[2]  # x1 is almost x0
    e[1] /= np.linalg.norm(e[1])
    kb = KindBank(e.astype(np.float32), kb.labels, kb.texts)
    assert len(kb.table(3, "merge")) == 3  # different strings: not merged by default
    t = kb.table(3, "merge", merge_cosine=0.99)
    assert len(t) == 2 and t.member.tolist()[0] == [True, True, False] and t.texts[0] == "x0"
    assert kb.table(3, "drop", merge_cosine=0.99).texts == ("c0",)
    with pytest.raises(ConfigError, match="shared texts"):
        kb.table(3, "mean")


# ---------------------------------------------------------------------------------------------
# from_config: the real path with the "minilm" spec; the cache is prepared so no model loads


@pytest.fixture
def store_dir(tmp_path):
    store = tmp_path / "descr" / "asl.jsonl"
    store.parent.mkdir()
    recs = [{"gloss": g, "status": "ok", "global": [f"{g} global"], "synonyms": [f"{g} syn"],
             "parts": {p: [f"{g} {p}"] for p in PARTS}} for g in ("tea", "coffee", "please")]
    store.write_text("\n".join([json.dumps({"format": "gspmc-descriptions", "version": 1, "parts": list(PARTS)})]
                               + [json.dumps(r) for r in recs]) + "\n", encoding="utf-8")
    texts = [t for r in recs for t in [*r["global"], *r["synonyms"], *[x for v in r["parts"].values() for x in v]]]
    emb = np.random.default_rng(0).standard_normal((len(texts), 384)).astype(np.float32)
    save_cache(store.with_name("asl.minilm.emb.npz"),
               EmbeddingCache(get_text_encoder("minilm").id, np.asarray([text_hash(t) for t in texts]), emb))
    return tmp_path


def test_from_config(store_dir):
    options = {"store": "descr/asl.jsonl", "encoder": "minilm", "embed_missing": False, "tau": 0.2,
               "terms": {"synonym": False}, "part_map": {"mouth": None}}
    o = GSPMCObjective.from_config(options, classes=["coffee", "hello", "tea"], layout=get_layout("gspmc-55"),
                                   feature_dim=8, alpha=0.25, base_dir=store_dir)
    assert o.active_terms == ["global", "part_left_hand", "part_right_hand", "part_body"]
    assert o.part_map["mouth"] is None and o.part_map["face"] == "body"
    assert o.model_parts == ("left_hand", "right_hand", "body")  # gspmc-55's part order
    assert o.contrastive.tau == pytest.approx(0.2) and o.alpha == 0.25
    assert o.bank.kinds["global"].texts == ("coffee global", "tea global")  # by name: coffee = 0, tea = 2
    assert o.bank.kinds["global"].labels.tolist() == [0, 2]
    assert o.bank.missing_classes == ("hello",) and o.bank.extra_glosses == ("please",)
    assert o.global_head.in_features == 8 and o.global_head.out_features == 384
    assert "hello" in o.describe()
    feats = Features(torch.randn(4, 8), torch.randn(4, 3, 8))  # what CTRGCN.encode returns
    out = o(feats, torch.tensor([0, 1, 2, 2]))
    assert torch.isfinite(out["multi"])


@pytest.mark.parametrize(
    "options, problem",
    [
        ({"encoder": "minilm"}, "mc.store"),
        ({"store": "descr/asl.jsonl", "temperature": 0.1}, "unknown keys"),
        ({"store": "descr/asl.jsonl", "terms": {"prompt": True}}, "mc.terms"),
        ({"store": "descr/asl.jsonl", "tau": 0}, "mc.tau"),
        ({"store": "descr/asl.jsonl", "alpha": 0.3}, "alpha is set once, as mc.alpha"),
        ({"store": "descr/asl.jsonl", "part_map": {"face": "face"}, "embed_missing": False}, "not a part of the model"),
        ({"store": "descr/asl.jsonl", "shared_texts": "average"}, "mc.shared_texts: expected one of merge, drop, keep"),
        ({"store": "descr/asl.jsonl", "merge_cosine": 1.5}, "mc.merge_cosine"),
    ],
)
def test_from_config_errors(store_dir, options, problem):
    with pytest.raises(ConfigError, match=problem):
        GSPMCObjective.from_config(options, classes=["tea"], layout=MODEL_PARTS_55, feature_dim=4,
                                   base_dir=store_dir)


def test_options_defaults():
    o = MCOptions.from_dict({"store": "x.jsonl"})
    assert (o.encoder, o.tau, o.learnable_tau, o.embed_missing, o.cache, o.seed) == ("minilm", 0.1, False, True, None, 0)
    assert o.terms == {"global": True, "synonym": True, "parts": True}
    assert (o.shared_texts, o.merge_cosine) == ("merge", None)
