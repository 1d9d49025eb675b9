"""`gspmc embed` through the real CLI entry point (with the deterministic test encoder)."""

from __future__ import annotations

import numpy as np

from gspmc.cli import main
from gspmc.text.cache import load_cache


def test_embed_builds_reuses_and_reports(make_store, rec, hash_encoder, tmp_path, capsys):
    store = make_store([rec("coffee", glob=["Fist circles."], right_hand=["Right fist."]),
                        rec("tea", glob=["Pinch dips."], syn=["Dip a tea bag."])], name="asl.jsonl")
    assert main(["embed", "--store", str(store), "--encoder", "test-hash", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "asl.hash.emb.npz: updated; 4 texts (0 reused, 4 embedded, 0 dropped)" in out
    cache = load_cache(tmp_path / "asl.hash.emb.npz")
    assert cache.encoder_id == "test-hash@1" and len(cache) == 4
    np.testing.assert_allclose(cache.lookup(["Pinch dips."]), hash_encoder.encode(["Pinch dips."]), rtol=1e-6)

    classes = tmp_path / "classes.txt"
    classes.write_text("tea\nmilk\ncoffee\n", encoding="utf-8")
    assert main(["embed", "--store", str(store), "--encoder", "test-hash", "--quiet", "--classes", str(classes)]) == 0
    out = capsys.readouterr().out
    assert "up to date; 4 texts (4 reused, 0 embedded, 0 dropped)" in out
    assert "classes not in the store: 'milk'" in out


def test_embed_other_encoder_fails_cleanly_then_rebuilds(make_store, rec, hash_encoder, tmp_path, capsys):
    store = make_store([rec("coffee", glob=["Fist circles."])])
    out_file = tmp_path / "custom.npz"
    assert main(["embed", "--store", str(store), "--encoder", "test-hash", "--out", str(out_file), "--quiet"]) == 0
    hash_encoder.version = "2"
    assert main(["embed", "--store", str(store), "--encoder", "test-hash", "--out", str(out_file), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "gspmc embed: error:" in err and str(out_file) in err and "--rebuild" in err
    assert main(["embed", "--store", str(store), "--encoder", "test-hash", "--out", str(out_file), "--quiet",
                 "--rebuild"]) == 0
    assert load_cache(out_file).encoder_id == "test-hash@2"


def test_embed_bad_store_is_a_user_error(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "nope"}\n', encoding="utf-8")
    assert main(["embed", "--store", str(bad), "--quiet"]) == 2
    assert "not a 'gspmc-descriptions' header" in capsys.readouterr().err


def test_embed_classes_reports_separability_stores_it_and_gates(make_store, rec, hash_encoder, tmp_path, capsys):
    """Two classes share a text exactly; the report says so, the JSON next to the cache holds the figures,
    and a gate below the measured mean fails with exit code 3."""
    import json

    store = make_store([rec("coffee", glob=["Fist circles on fist."], body=["The body stays upright."]),
                        rec("tea", glob=["Pinch dips in a cup."], body=["The body stays upright."]),
                        rec("water", glob=["W taps the chin."])], name="asl.jsonl")
    classes = tmp_path / "classes.txt"
    classes.write_text("coffee\ntea\nwater\n", encoding="utf-8")
    base = ["embed", "--store", str(store), "--encoder", "test-hash", "--quiet", "--classes", str(classes)]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "| kind | texts | classes | mean | mean nearest other | max (pair) | class pairs >= 0.9 | shared texts |" in out
    assert "body: 2 classes share 'The body stays upright.': 'coffee', 'tea'" in out
    sep = json.loads((tmp_path / "asl.hash.separability.json").read_text())
    body, glob = sep["kinds"]["body"], sep["kinds"]["global"]
    assert body["shared_texts"] == {"The body stays upright.": ["coffee", "tea"]}
    assert body["max_cross_cosine"] == 1.0 and body["pairs_at_threshold"] == [["coffee", "tea", 1.0]]
    e = hash_encoder.encode(["Fist circles on fist.", "Pinch dips in a cup.", "W taps the chin."])
    sims = [float(e[i] @ e[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert glob["mean_cross_cosine"] == round(sum(sims) / 3, 4) and glob["texts"] == 3
    limit = glob["mean_cross_cosine"] - 0.01
    assert main([*base, "--gate", f"global:{limit}"]) == 3
    assert "GATE FAILED: global: mean cross-class cosine" in capsys.readouterr().out
    assert main([*base, "--gate", "global:1.0"]) == 0
    assert "nearest text same class" in capsys.readouterr().out  # the recognition view is printed
    for key in ("centred_nearest_other", "mean_within_class", "within_cross_gap", "nearest_text_accuracy"):
        assert key in glob  # one text per class: the within-class figures are None
    assert glob["mean_within_class"] is None and glob["centred_nearest_other"] is not None
    assert main([*base, "--gate", "nokind:0.5"]) == 2
