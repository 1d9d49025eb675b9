"""The open-vocabulary protocol end to end on a tiny synthetic dataset: train on the seen classes only,
evaluate zero-shot / generalised / few-shot / the attribute baseline, tabulate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

SIGNERS = ("TheCamNelson", "dmohazab", "Alex")
CLASSES = ("-", "a", "can", "coffee", "get", "tea")
ASLLEX_COLS = ["EntryID", "SignType.2.0", "Handshape.2.0", "Movement.2.0", "MajorLocation.2.0", "MinorLocation.2.0",
               "NonDominantHandshape.2.0", "Contact.2.0", "RepeatedMovement.2.0"]
ASLLEX_ROWS = [["can", "SymmetricalOrAlternating", "s", "Straight", "Neutral", "Neutral", "s", "0", "0"],
               ["coffee", "AsymmetricalSameHandshape", "s", "Circular", "Hand", "FingerRadial", "s", "1", "1"],
               ["get", "SymmetricalOrAlternating", "o", "Straight", "Neutral", "Neutral", "o", "1", "0"],
               ["tea", "AsymmetricalDifferentHandshape", "f", "Circular", "Hand", "FingerRadial", "C", "1", "1"]]


def _synthetic_npz(path: Path, per_signer: int = 4, frames: int = 8) -> Path:
    """MP_Data clips: each class moves the right hand along its own direction; every class by every signer."""
    rng = np.random.default_rng(0)
    kp, labels, signers, ids = [], [], [], []
    for s, signer in enumerate(SIGNERS):
        for label in range(len(CLASSES)):
            angle = 2 * np.pi * label / len(CLASSES)
            for k in range(per_signer):
                pose = np.zeros((33, 4), np.float32)
                pose[:, 0], pose[:, 1] = 0.5 + rng.normal(0, 0.02, 33), 0.5 + np.linspace(-0.3, 0.4, 33)
                pose[11, :2], pose[12, :2], pose[:, 3] = (0.6, 0.4), (0.4, 0.4), 1.0
                pose[:, :2] += 0.03 * s
                out = []
                for t in range(frames):
                    step = t / (frames - 1) * (0.0 if label == 0 else 0.2)
                    hand = np.zeros((21, 3), np.float32)
                    hand[:, 0] = 0.4 + rng.normal(0, 0.01, 21) + step * np.cos(angle)
                    hand[:, 1] = 0.6 + rng.normal(0, 0.01, 21) - step * np.sin(angle)
                    out.append(np.concatenate([pose.reshape(-1), np.zeros(63, np.float32), hand.reshape(-1)]))
                kp.append(np.stack(out))
                labels.append(label)
                signers.append(signer)
                ids.append(f"MP_Data/{CLASSES[label]}/{signer}{k}")
    np.savez(path, keypoints=np.stack(kp).astype(np.float16), labels=np.asarray(labels), classes=np.asarray(CLASSES),
             signers=np.asarray(signers), ids=np.asarray(ids), lengths=np.full(len(kp), frames))
    return path


def _store(path: Path) -> Path:
    parts = ("left_hand", "right_hand", "body", "face", "mouth")
    header = {"format": "gspmc-descriptions", "version": 1, "parts": list(parts)}
    recs = []
    for g in CLASSES:
        entry = None if g == "-" else ("asl-manual-alphabet:letter-a" if g == "a" else f"asl-lex:{g}")
        recs.append({"gloss": g, "status": "ok", "global": [f"the sign {g} moves the right hand"],
                     "synonyms": [f"{g}: a right hand movement"],
                     "parts": {p: ([f"right hand of {g}"] if p == "right_hand" else []) for p in parts},
                     "provenance": {"backend": "test", "kb_entry": entry}})
    path.write_text("\n".join(json.dumps(r) for r in [header, *recs]) + "\n", encoding="utf-8")
    return path


def _config(path: Path, data: Path, store: Path) -> Path:
    path.write_text(f"""
name: tiny-openvocab
data: {{dataset: traduttore, path: {str(data)!r}, protocol: traduttore-xsigner, fold: TheCamNelson}}
input: {{layout: sam-slr-27, window: 8, stream: joint, normalize: shoulders}}
augment: null
model: {{profile: cpu-small, channels: [8, 16], strides: [1, 2]}}
optim: {{lr: 0.05, batch_size: 8, epochs: 2, warmup_epochs: 0.5, milestones: [5], weight_decay: 1.0e-4}}
trainer: {{seed: 0, accelerator: cpu, devices: "1", progress_bar: false, eval_batch_size: 32, threads: 1,
          precision: 32-true}}
mc: {{enabled: false, options: {{store: {str(store)!r}, encoder: test-hash}}}}
""", encoding="utf-8")
    return path


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """The tiny dataset, store, config, the class split (2 unseen, 1 validation class) and the runs root; the
    ASL-LEX subset under a temporary GSPMC_DATA."""
    from gspmc.data import load_dataset
    from gspmc.openvocab.splits import make_class_split

    data_dir = tmp_path / "data"
    (data_dir / "kb/asl-lex").mkdir(parents=True)
    (data_dir / "kb/asl-lex/signdata-11-5-20.csv").write_text(
        "\n".join(",".join(r) for r in [ASLLEX_COLS, *ASLLEX_ROWS]) + "\n", encoding="utf-8")
    monkeypatch.setenv("GSPMC_DATA", str(data_dir))
    npz = _synthetic_npz(tmp_path / "tiny.npz")
    store = _store(tmp_path / "tiny.jsonl")
    cfg = _config(tmp_path / "tiny.yaml", npz, store)
    clips = load_dataset(npz, format="mp-npz")
    split = make_class_split(clips, "TheCamNelson", 0, n_unseen=2, n_val=1, excluded=())
    root = tmp_path / "runs"
    return clips, store, cfg, split, root


def test_protocol_trains_on_seen_classes_and_evaluates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gspmc.inference.checkpoint import load_recognizer
    from gspmc.openvocab.evaluate import evaluate_run
    from gspmc.openvocab.protocol import EVAL_FILE, SPLIT_FILE, read_split, run_dir, train_split
    from gspmc.openvocab.report import tables

    clips, store, cfg, split, root = _setup(tmp_path, monkeypatch)
    result = train_split(clips, store, split, root, config=str(cfg))
    out = run_dir(root, store, split)
    assert out == root / "tiny" / "TheCamNelson" / "split0" and result["complete"]
    assert read_split(out) == split and json.loads((out / SPLIT_FILE).read_text())["store_sha256"]
    rec = load_recognizer(out / "best.ckpt")
    assert rec.classes == list(split.seen) and rec.has_embedding  # trained on the seen classes only
    n_seen_side = sum(1 for s in clips.samples if clips.classes[s.label] in split.seen and s.signer != "TheCamNelson")
    sizes = result["split_sizes"]
    assert sizes["train"]["clips"] + sizes["val"]["clips"] == n_seen_side
    assert train_split(clips, store, split, root, config=str(cfg))["wall_time_s"] == result["wall_time_s"]  # done: skipped

    ev = evaluate_run(out, clips, shots=(1, 2), draws=2, kb_store=store)
    assert (out / EVAL_FILE).is_file() and ev["chance"]["top1"] == 0.5
    assert ev["sizes"]["zsl_test"] == 2 * 4 and ev["sizes"]["zsl_val"] == 1 * 4 * 2
    for block in (ev["zero_shot"]["global"], ev["zero_shot"]["global+parts"], ev["baseline"]["attributes_raw"],
                  ev["baseline"]["attributes_sg"]):
        assert 0.0 <= block["top1"] <= block["top5"] <= 1.0
    for block in (ev["gzsl_embedding"]["calibrated"], ev["gzsl_recognizer"]["calibrated"]):
        assert set(block) == {"seen", "unseen", "h"} and 0.0 <= block["h"] <= 1.0
    for k in ("1", "2"):
        fs = ev["few_shot"][k]
        assert fs["cross_signer/clips/top1"]["n"] == 2 and 0.0 <= fs["cross_signer/clips+text/top1"]["mean"] <= 1.0
        assert 0.0 <= fs["text_weight"] <= 1.0 and set(fs["bias"]) == {"clips", "clips+text"}
    again = evaluate_run(out, clips, shots=(1, 2), draws=2, kb_store=store, force=True)
    assert json.dumps(again, sort_keys=True) == json.dumps(ev, sort_keys=True)  # deterministic
    text = tables(root)
    assert "Zero-shot, 2-way" in text and "`tiny`" in text and "Few-shot enrolment" in text

    # constructed cases with known answers (the feature cache is what evaluate_run reads): every clip
    # embedded exactly at its class's text prototype -> zero-shot and few-shot are perfect; the two unseen
    # classes' texts swapped -> zero-shot is always wrong, while clip prototypes (few-shot) are unaffected
    from gspmc.openvocab.evaluate import FEATURE_FILE
    from gspmc.openvocab.space import ClipFeatures, text_prototypes
    from gspmc.text import load_text_bank

    real = ClipFeatures.load(out / FEATURE_FILE)
    protos, has = text_prototypes(load_text_bank(store, clips.classes, "test-hash"))
    assert has.all()
    labels = clips.labels()
    u0, u1 = (clips.classes.index(c) for c in split.unseen)
    swapped = labels.copy()
    swapped[labels == u0], swapped[labels == u1] = u1, u0
    no_parts = {p: np.zeros_like(e) for p, e in real.parts.items()}
    for at, zero_shot in ((labels, 1.0), (swapped, 0.0)):
        ClipFeatures(real.logits, real.global_, protos[at].astype(np.float32), no_parts, real.inputs).save(
            out / FEATURE_FILE)
        ev = evaluate_run(out, clips, shots=(1, 2), draws=2, kb_store=store, force=True)
        assert ev["zero_shot"]["global"]["top1"] == zero_shot
        assert ev["zero_shot"]["global"]["mean_class"] == zero_shot
        assert ev["zero_shot"]["part_weight"] == 0.0  # part scores are all 0: the first weight wins the tie
        for k in ("1", "2"):
            assert ev["few_shot"][k]["cross_signer/clips/top1"]["mean"] == 1.0
            assert ev["few_shot"][k]["own_signer/clips/top1"]["mean"] == 1.0

    # the classifier's columns are matched to the seen classes by name: a checkpoint listing its classes in
    # another order (with its logits in that order) evaluates identically; another class set is refused
    import torch

    from gspmc.errors import ConfigError

    real.save(out / FEATURE_FILE)
    base = evaluate_run(out, clips, shots=(1,), draws=1, kb_store=store, force=True)
    ckpt = torch.load(out / "best.ckpt", map_location="cpu", weights_only=True)
    seen_names = list(ckpt["gspmc"]["classes"])
    perm = list(reversed(range(len(seen_names))))
    ckpt["gspmc"]["classes"] = [seen_names[i] for i in perm]
    torch.save(ckpt, out / "best.ckpt")
    ClipFeatures(real.logits[:, perm], real.global_, real.embedding, real.parts, real.inputs).save(out / FEATURE_FILE)
    permuted = evaluate_run(out, clips, shots=(1,), draws=1, kb_store=store, force=True)
    assert json.dumps(permuted, sort_keys=True) == json.dumps(base, sort_keys=True)
    ckpt["gspmc"]["classes"] = ["renamed", *ckpt["gspmc"]["classes"][1:]]
    torch.save(ckpt, out / "best.ckpt")
    with pytest.raises(ConfigError, match="that the model lacks"):
        evaluate_run(out, clips, shots=(1,), draws=1, kb_store=store, force=True)


def test_ce_baseline_run_pairs_with_the_gspmc_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``store=None`` trains the CE-only baseline (GSP-MC off, same seed) under ``<root>/ce``; its evaluation
    has the text-free parts only, enrols the same support clips as the GSP-MC run of the split, and the
    report pairs the two by (fold, split)."""
    from gspmc.errors import DataError
    from gspmc.inference.checkpoint import load_recognizer
    from gspmc.openvocab.evaluate import FEATURE_FILE, evaluate_ce_run, evaluate_run
    from gspmc.openvocab.protocol import SPLIT_FILE, run_dir, train_split
    from gspmc.openvocab.report import tables
    from gspmc.openvocab.space import ClipFeatures, clip_features

    clips, store, cfg, split, root = _setup(tmp_path, monkeypatch)
    train_split(clips, store, split, root, config=str(cfg))
    result = train_split(clips, None, split, root, config=str(cfg))
    gsp, ce = run_dir(root, store, split), run_dir(root, None, split)
    assert ce == root / "ce" / "TheCamNelson" / "split0" and result["complete"]
    meta = json.loads((ce / SPLIT_FILE).read_text())
    assert meta["store"] is None and meta["store_sha256"] is None
    assert not load_recognizer(ce / "best.ckpt").has_embedding  # CE only: no text space
    with pytest.raises(DataError, match="no GSP-MC projection head"):
        clip_features(ce / "best.ckpt", clips)

    ev_g = evaluate_run(gsp, clips, shots=(1, 2), draws=2, kb_store=store)
    ev_c = evaluate_run(ce, clips, shots=(1, 2), draws=2, kb_store=store)  # dispatches on mc.enabled
    assert ev_c["objective"] == "ce" and ev_g["objective"] == "gspmc"
    assert "zero_shot" not in ev_c and ev_c["sizes"] == ev_g["sizes"] and ev_c["split"] == ev_g["split"]
    assert set(ev_c["few_shot"]["1"]) == {"cross_signer/backbone/top1", "own_signer/backbone/top1"}
    assert 0.0 <= ev_c["classifier_seen_top1"] <= 1.0 and 0.0 <= ev_c["baseline"]["attributes_sg"]["top1"] <= 1.0
    # the raw-input baseline does not depend on the model: identical in both arms
    assert ev_c["baseline"]["attributes_raw"] == ev_g["baseline"]["attributes_raw"]

    # the same support clips: with the GSP-MC run's S_g in the CE run's feature cache, the CE evaluation
    # reproduces the GSP-MC run's S_g few-shot numbers exactly, draw for draw
    real_c, real_g = ClipFeatures.load(ce / FEATURE_FILE), ClipFeatures.load(gsp / FEATURE_FILE)
    assert real_c.embedding.shape == (len(clips), 0) and real_c.parts == {}
    ClipFeatures(real_c.logits, real_g.global_, real_c.embedding, {}, real_c.inputs).save(ce / FEATURE_FILE)
    swapped = evaluate_ce_run(ce, clips, shots=(1, 2), draws=2, kb_store=store, force=True)
    for k in ("1", "2"):
        for where in ("cross_signer", "own_signer"):
            key = f"{where}/backbone/top1"
            assert swapped["few_shot"][k][key] == ev_g["few_shot"][k][key]
    # a hand-computed case: S_g = the one-hot of the clip's label -> every query nearest its own class
    onehot = np.eye(len(clips.classes), dtype=np.float32)[clips.labels()]
    ClipFeatures(real_c.logits, onehot, real_c.embedding, {}, real_c.inputs).save(ce / FEATURE_FILE)
    perfect = evaluate_ce_run(ce, clips, shots=(1, 2), draws=2, kb_store=store, force=True)
    assert all(v["mean"] == 1.0 for k in ("1", "2") for v in perfect["few_shot"][k].values())

    text = tables(root)
    assert "The CE-only backbone" in text and "`tiny`: GSP-MC, S_g" in text
    row = next(line for line in text.splitlines() if line.startswith("| few-shot K = 1, cross signer | `tiny`: GSP-MC, S_g"))
    gap = 100 * (ev_g["few_shot"]["1"]["cross_signer/backbone/top1"]["mean"]
                 - perfect["few_shot"]["1"]["cross_signer/backbone/top1"]["mean"])
    assert row.rstrip(" |").endswith(f"| {gap:+.1f} / - | {gap:+.1f}")  # one pair (TCN): the difference, no interval
