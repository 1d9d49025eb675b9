"""Training through the real entry point on a tiny synthetic dataset: smoke, resume, checkpoint round trip."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from gspmc.cli import main
from gspmc.errors import ConfigError, DataError
from gspmc.inference.checkpoint import load_recognizer, read_checkpoint


@pytest.fixture()
def tiny_config(make_tiny_config):
    return make_tiny_config(epochs=2)


def test_fit_smoke_writes_everything(tmp_path, tiny_config, synthetic_classes, capsys) -> None:
    out = tmp_path / "run"
    assert main(["fit", "--config", str(tiny_config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "TEST top-1 (signer-independent: held-out signer), fold TheCamNelson" in printed
    for name in ("config.yaml", "last.ckpt", "best.ckpt", "scores_val.npz", "scores_test.npz",
                 "report_test.json", "report_val.json", "confusion_test.png", "result.json", "logs/metrics.csv"):
        assert (out / name).is_file(), name
    result = json.loads((out / "result.json").read_text())
    assert result["complete"] and result["fold"] == "TheCamNelson" and result["stream"] == "joint"
    # the held-out signer's clips are exactly the test split; validation comes from the others
    sizes = result["split_sizes"]
    assert sizes["test"]["clips"] == 18 and sizes["train"]["clips"] + sizes["val"]["clips"] == 36
    report = json.loads((out / "report_test.json").read_text())
    assert report["split"] == "test" and report["config"]["data"]["fold"] == "TheCamNelson"
    assert report["counts"]["clips"] == 18  # accuracy itself: tests/train/test_learning_and_classes.py
    # the CSV log has one validation row per epoch
    rows = (out / "logs" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    val_rows = [r for r in rows[1:] if r.split(",")[header.index("val/top1")]]
    assert len(val_rows) == 2
    # best checkpoint = the validation-best epoch
    ckpt = read_checkpoint(out / "best.ckpt")
    assert ckpt["gspmc"]["classes"] == synthetic_classes
    assert ckpt["gspmc"]["config"]["optim"]["epochs"] == 2
    assert result["best_epoch"] == ckpt["gspmc"]["epoch"]


def test_checkpoint_round_trip_gives_identical_logits(tmp_path, tiny_config, synthetic_classes) -> None:
    out = tmp_path / "run"
    assert main(["fit", "--config", str(tiny_config), "--out", str(out), "--set", "optim.epochs=1"]) == 0
    rec = load_recognizer(out / "best.ckpt")
    assert rec.classes == synthetic_classes and rec.input_cfg.layout == "gspmc-55" and rec.input_cfg.window == 8
    assert not rec.model.training
    # the scores saved at the end of training came from the same weights on the same inputs
    from gspmc.train.config import load_config
    from gspmc.train.datamodule import SkeletonDataModule

    dm = SkeletonDataModule(load_config(out / "config.yaml"))
    dm.setup("test")
    x = torch.stack([dm.test_set[i][0] for i in range(len(dm.test_set))])  # (N, C, T, V)
    saved = np.load(out / "scores_test.npz")["scores"]
    np.testing.assert_allclose(rec.logits(x), saved, rtol=1e-5, atol=1e-5)
    # a Lightning-free state dict: same logits as the Lightning module's model
    ckpt = torch.load(out / "best.ckpt", map_location="cpu", weights_only=True)
    from gspmc.train.module import RecognitionModule

    mod = RecognitionModule(ckpt["hyper_parameters"]["config"], ckpt["hyper_parameters"]["classes"])
    mod.load_state_dict(ckpt["state_dict"])
    mod.eval()
    with torch.no_grad():
        np.testing.assert_allclose(mod(x).numpy(), rec.logits(x), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="expected inputs"):
        rec.logits(torch.zeros(2, 3, 8, 27))


def test_resume_continues_instead_of_restarting(tmp_path, tiny_config) -> None:
    straight = tmp_path / "straight"
    assert main(["fit", "--config", str(tiny_config), "--out", str(straight)]) == 0
    # the same run "killed" after epoch 1, then started again with the same command
    split = tmp_path / "split"
    assert main(["fit", "--config", str(tiny_config), "--out", str(split), "--set", "optim.epochs=1"]) == 0
    first = torch.load(split / "last.ckpt", map_location="cpu", weights_only=True)
    assert first["epoch"] == 0 and first["global_step"] > 0
    steps_per_epoch = first["global_step"]
    assert main(["fit", "--config", str(tiny_config), "--out", str(split)]) == 0
    resumed = torch.load(split / "last.ckpt", map_location="cpu", weights_only=True)
    full = torch.load(straight / "last.ckpt", map_location="cpu", weights_only=True)
    assert resumed["epoch"] == 1 and resumed["global_step"] == 2 * steps_per_epoch  # continued, not restarted
    assert resumed["lr_schedulers"][0]["last_epoch"] == full["lr_schedulers"][0]["last_epoch"]
    # optimizer state (momentum buffers) and weights equal the uninterrupted run's
    for k, v in full["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][k], v, rtol=1e-5, atol=1e-6, msg=k)
    m_full = full["optimizer_states"][0]["state"]
    m_res = resumed["optimizer_states"][0]["state"]
    assert m_full.keys() == m_res.keys()
    for k in m_full:
        torch.testing.assert_close(m_res[k]["momentum_buffer"], m_full[k]["momentum_buffer"], rtol=1e-5, atol=1e-6)
    result = json.loads((split / "result.json").read_text())
    assert result["resumed_from"].endswith("last.ckpt")


def test_resume_with_a_different_config_is_refused(tmp_path, tiny_config) -> None:
    out = tmp_path / "run"
    assert main(["fit", "--config", str(tiny_config), "--out", str(out), "--set", "optim.epochs=1"]) == 0
    from gspmc.train.config import load_config
    from gspmc.train.fit import fit

    with pytest.raises(ConfigError, match="optim.lr"):
        fit(load_config(tiny_config, ["optim.lr=0.3"]), out)
    assert main(["fit", "--config", str(tiny_config), "--out", str(out), "--set", "optim.lr=0.3"]) == 2


def test_missing_data_is_a_clear_error(tmp_path, make_tiny_config, capsys) -> None:
    cfg = make_tiny_config(data_path=tmp_path / "nowhere.npz")
    assert main(["fit", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "nowhere.npz" in err
    with pytest.raises(DataError):
        load_recognizer(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.ckpt"):
        load_recognizer(tmp_path / "junk.ckpt")


def test_test_command_fuses_streams(tmp_path, make_tiny_config, capsys) -> None:
    cfg = make_tiny_config(epochs=1)
    runs = {}
    for stream in ("joint", "bone"):
        runs[stream] = tmp_path / stream
        assert main(["fit", "--config", str(cfg), "--out", str(runs[stream]), "--set", f"input.stream={stream}"]) == 0
    out = tmp_path / "eval"
    assert main(["test", "--checkpoint", str(runs["joint"] / "best.ckpt"), "--checkpoint",
                 str(runs["bone"] / "best.ckpt"), "--weights", "1", "2", "--out", str(out)]) == 0
    report = json.loads((out / "report_test_fused.json").read_text())
    assert report["fusion_weights"] == [1.0, 2.0] and (out / "confusion_test_fused.png").is_file()
    # the fused accuracy equals fusing the runs' own saved test scores by hand
    from gspmc.inference.metrics import topk_accuracy
    from gspmc.inference.scores import fuse
    from gspmc.train.evaluate import align_scores, load_scores

    files = [load_scores(runs[s] / "scores_test.npz") for s in ("joint", "bone")]
    mats, labels = align_scores(files, ["joint", "bone"])
    expected = topk_accuracy(fuse(mats, [1.0, 2.0]), labels, 1)
    assert report["metrics"]["top1"] == pytest.approx(expected)
    assert "fused (2 streams" in capsys.readouterr().out
    assert main(["test", "--checkpoint", str(runs["joint"] / "best.ckpt"), "--weights", "1", "2"]) == 2


def test_info_reports_parameters_and_flops(make_tiny_config, capsys) -> None:
    from gspmc.models import build_model, count_parameters, get_profile
    from gspmc.pose.layouts import get_layout

    assert main(["info", "--config", str(make_tiny_config()), "--classes", "3"]) == 0
    out = capsys.readouterr().out
    model = build_model(get_profile("cpu-small", channels=(8, 8), strides=(1, 2)), 3, get_layout("gspmc-55"))
    assert f"parameters: {count_parameters(model):,}" in out and "GFLOPs" in out


def test_demo_without_data_says_how_to_get_it(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GSPMC_DATA", str(tmp_path / "empty"))
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    assert "gspmc data" in capsys.readouterr().err


def test_contrastive_objective_hook(tmp_path, make_tiny_config) -> None:
    """mc.enabled trains CE + alpha * L_multi (Eq. 12); the recogniser drops the projection heads."""
    from gspmc.text.cache import EmbeddingCache, save_cache, text_hash
    from gspmc.text.encoders import get_text_encoder

    parts = ("left_hand", "right_hand", "body", "face", "mouth")
    store = tmp_path / "asl.jsonl"
    recs = [{"gloss": g, "status": "ok", "global": [f"{g} global"], "synonyms": [f"{g} syn"],
             "parts": {p: [f"{g} {p}"] for p in parts}} for g in ("-", "coffee", "tea")]
    store.write_text("\n".join([json.dumps({"format": "gspmc-descriptions", "version": 1, "parts": list(parts)})]
                               + [json.dumps(r) for r in recs]) + "\n", encoding="utf-8")
    texts = [t for r in recs for t in [*r["global"], *r["synonyms"], *[x for v in r["parts"].values() for x in v]]]
    emb = np.random.default_rng(0).standard_normal((len(texts), 384)).astype(np.float32)
    save_cache(tmp_path / "asl.emb.npz",  # prepared cache: no text model is loaded
               EmbeddingCache(get_text_encoder("minilm").id, np.asarray([text_hash(t) for t in texts]), emb))
    out = tmp_path / "mc"
    sets = ["optim.epochs=1", "mc.enabled=true", "mc.alpha=0.5",
            f"mc.options={{store: {str(store)!r}, cache: {str(tmp_path / 'asl.emb.npz')!r}, embed_missing: false}}"]
    args = ["fit", "--config", str(make_tiny_config()), "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    rows = list(csv.DictReader((out / "logs" / "metrics.csv").read_text().splitlines()))
    assert {"train/ce", "train/multi", "train/global"} <= set(rows[0])
    (epoch,) = [r for r in rows if r.get("train/ce")]  # the epoch means (every step is weighted by its batch)
    ce, multi, total = (float(epoch[k]) for k in ("train/ce", "train/multi", "train/loss_epoch"))
    assert multi > 0 and total == pytest.approx(ce + 0.5 * multi, rel=1e-5)  # Eq. 12 with alpha 0.5
    ckpt = torch.load(out / "best.ckpt", map_location="cpu", weights_only=True)
    assert any(k.startswith("objective.") for k in ckpt["state_dict"])
    rec = load_recognizer(out / "best.ckpt")
    assert not any(n.startswith("objective") for n, _ in rec.model.named_parameters())
    with pytest.raises(ConfigError, match="mc.store"):
        from gspmc.train.config import load_config

        load_config(None, ["mc.enabled=true"])


def test_precision_auto_follows_the_cpu_flags(tmp_path, monkeypatch) -> None:
    from gspmc.train import fit as fit_mod

    with_bf16 = tmp_path / "bf16"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    without = tmp_path / "plain"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma\n")
    assert fit_mod.cpu_has_native_bf16(with_bf16) is True
    assert fit_mod.cpu_has_native_bf16(without) is False
    assert fit_mod.cpu_has_native_bf16(tmp_path / "missing") is False
    # explicit values pass through unchanged; auto on a CPU picks by the flags
    assert fit_mod.resolve_precision("32-true", "cpu") == "32-true"
    assert fit_mod.resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    monkeypatch.setattr(fit_mod, "cpu_has_native_bf16", lambda: True)
    assert fit_mod.resolve_precision("auto", "cpu") == "bf16-mixed"
    monkeypatch.setattr(fit_mod, "cpu_has_native_bf16", lambda: False)
    assert fit_mod.resolve_precision("auto", "cpu") == "32-true"


def test_fit_with_the_signer_shift_options(tmp_path, tiny_config) -> None:
    """hand_frame gives a 5-channel model end to end; val_group validates on a training-side signer."""
    out = tmp_path / "run"
    sets = ["optim.epochs=1", "input.hand_frame=true", "input.missing=last", "augment.hand_gap=0.5",
            "augment.speed=[0.8,1.25]", "data.val_group=dmohazab"]
    assert main(["fit", "--config", str(tiny_config), "--out", str(out), *[a for s in sets for a in ("--set", s)]]) == 0
    result = json.loads((out / "result.json").read_text())
    sizes = result["split_sizes"]
    assert (sizes["train"]["clips"], sizes["val"]["clips"], sizes["test"]["clips"]) == (18, 18, 18)  # Alex / dmohazab / TCN
    rec = load_recognizer(out / "best.ckpt")
    assert rec.input_cfg.channels == 5 and rec.model.cfg.in_channels == 5
    saved = np.load(out / "scores_test.npz")["scores"]
    assert saved.shape == (18, 3) and np.isfinite(saved).all()
    with pytest.raises(ValueError, match="expected inputs"):
        rec.logits(torch.zeros(2, 3, 8, 55))  # a 3-channel input is refused with a clear error
