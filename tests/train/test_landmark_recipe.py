"""The landmark backbone and the recipe options through training (issue 20): set_epoch (late dropout),
AdamW's parameter groups, mixup and AWP on a training step, k clips per class with step-matched epochs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gspmc.cli import main
from gspmc.errors import ConfigError
from gspmc.inference.checkpoint import load_recognizer
from gspmc.train.config import load_config

LANDMARK = ["model.profile=landmark-small", "model.dim=16", "model.heads=2", "model.convs_per_stage=1"]


def _module(config_path, sets=()):
    from gspmc.train.config import config_to_dict
    from gspmc.train.module import RecognitionModule

    cfg = load_config(config_path, [*LANDMARK, *sets])
    torch.manual_seed(0)
    return RecognitionModule(config_to_dict(cfg), ["-", "coffee", "tea"])


class _Trainer:
    """What the module reads of a trainer outside fit: the epoch and the datamodule (none here)."""

    datamodule = None

    def __init__(self, epoch: int) -> None:
        self.current_epoch = epoch


def _step(module, x, y) -> torch.Tensor:
    module.log = lambda *a, **k: None  # no trainer to log to
    module.optimizers = lambda: torch.optim.SGD(module.parameters(), lr=0.0)
    return module.training_step((x, y), 0)


def test_set_epoch_switches_late_dropout_at_its_epoch(make_tiny_config) -> None:
    m = _module(make_tiny_config(), ["model.late_dropout=0.5", "model.late_dropout_epoch=2"])
    for epoch, on in ((0, False), (1, False), (2, True), (3, True), (1, False)):  # a resume may go back
        m._trainer = _Trainer(epoch)
        m.on_train_epoch_start()
        assert m.model.late_dropout_active is on, epoch


def test_adamw_does_not_decay_biases_and_norms(make_tiny_config) -> None:
    from gspmc.train.module import build_optimizer

    m = _module(make_tiny_config(), ["optim.name=adamw", "optim.lr=0.001", "optim.weight_decay=0.05"])
    opt = build_optimizer(m, m.cfg.optim)
    assert isinstance(opt, torch.optim.AdamW)
    decay, none = opt.param_groups
    assert decay["weight_decay"] == 0.05 and none["weight_decay"] == 0.0
    assert all(p.dim() > 1 for p in decay["params"]) and all(p.dim() <= 1 for p in none["params"])
    names = {id(p): n for n, p in m.named_parameters()}
    assert any("norm" in names[id(p)] for p in none["params"]) and any(names[id(p)].endswith("bias") for p in none["params"])
    assert len(decay["params"]) + len(none["params"]) == len(list(m.parameters()))
    sgd = build_optimizer(m, load_config(make_tiny_config()).optim)
    assert isinstance(sgd, torch.optim.SGD) and len(sgd.param_groups) == 1
    with pytest.raises(ConfigError, match="optim.name"):
        load_config(make_tiny_config(), ["optim.name=adam"])


def _batch():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 8, 55, generator=g)
    x[:, -1] = 1.0
    return x, torch.tensor([0, 1, 2, 0, 1, 2])


def test_mixup_mixes_inputs_and_losses_and_leaves_the_global_rng(make_tiny_config) -> None:
    from gspmc.train.regularize import mix, mixup_draw

    x, y = _batch()
    m = _module(make_tiny_config(), ["optim.mixup=0.4"])
    m.eval()  # no dropout: the loss is a function of the inputs only
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    loss = _step(m, x, y)
    assert torch.equal(torch.random.get_rng_state(), state)  # mixup draws from its own (seed, step) generator
    lam, perm = mixup_draw(0.4, 6, seed=0, step=0)
    logits = m.model(mix(x, lam, perm))
    ce = torch.nn.functional.cross_entropy
    expect = lam * ce(logits, y) + (1 - lam) * ce(logits, y[torch.as_tensor(perm)])
    torch.testing.assert_close(loss, expect)


def test_awp_loss_is_at_the_perturbed_weights_and_the_step_restores_them(make_tiny_config) -> None:
    from gspmc.train.regularize import awp_deltas

    x, y = _batch()
    m = _module(make_tiny_config(), ["optim.awp=0.05", "optim.awp_epoch=0"])
    m.eval()
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    params = [p for p in m.model.parameters() if p.dim() > 1]
    clean = torch.nn.functional.cross_entropy(m.model(x), y)
    deltas = awp_deltas(params, torch.autograd.grad(clean, params), 0.05)
    with torch.no_grad():
        for p, d in zip(params, deltas, strict=True):
            p.add_(d)
        expect = torch.nn.functional.cross_entropy(m.model(x), y)
        for p, d in zip(params, deltas, strict=True):
            p.sub_(d)
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    loss = _step(m, x, y)
    assert torch.equal(torch.random.get_rng_state(), state)  # the extra pass runs on a forked RNG
    torch.testing.assert_close(loss, expect)
    assert float(loss.detach()) > float(clean.detach())  # the perturbation ascends the loss
    m.on_before_optimizer_step(None)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p, before[n], rtol=0, atol=1e-6)
    off = _module(make_tiny_config(), ["optim.awp=0.05", "optim.awp_epoch=3"])
    off.eval()
    torch.testing.assert_close(_step(off, x, y), torch.nn.functional.cross_entropy(off.model(x), y))


def test_fit_landmark_with_recipe_options_and_k_per_class(tmp_path, make_tiny_config) -> None:
    """The landmark backbone trains end to end with AdamW, mixup, AWP, time masking and shear, on 2 clips
    per class with the full split's steps per epoch; the checkpoint loads for inference."""
    out = tmp_path / "run"
    sets = [*LANDMARK, "optim.epochs=2", "optim.name=adamw", "optim.lr=0.003", "optim.mixup=0.2",
            "optim.awp=0.05", "optim.awp_epoch=1", "augment.time_mask=0.5", "augment.shear=0.1",
            "model.late_dropout=0.3", "model.late_dropout_epoch=1", "data.per_class=2"]
    assert main(["fit", "--config", str(make_tiny_config()), "--out", str(out),
                 *[a for s in sets for a in ("--set", s)]]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["split_sizes"]["train"]["clips"] == 6  # 2 clips x 3 classes
    import csv

    rows = list(csv.DictReader(open(out / "logs" / "metrics.csv")))
    steps = max(int(r["step"]) for r in rows if r["step"]) + 1
    assert steps >= 2 * 3  # 18 training clips per epoch (the full split), batch 8: 3 steps x 2 epochs
    rec = load_recognizer(out / "best.ckpt")
    assert rec.model.cfg.backbone == "landmark"
    assert np.isfinite(np.load(out / "scores_test.npz")["scores"]).all()


def test_per_class_subset_in_the_datamodule(make_tiny_config) -> None:
    from gspmc.train.datamodule import SkeletonDataModule

    full = SkeletonDataModule(load_config(make_tiny_config()))
    full.setup()
    dm = SkeletonDataModule(load_config(make_tiny_config(), ["data.per_class=2", "data.per_class_seed=7"]))
    dm.setup()
    labels = dm.clips.labels()
    assert np.bincount(labels[dm.split.train]).tolist() == [2, 2, 2]
    assert set(dm.split.train) <= set(full.split.train)
    np.testing.assert_array_equal(dm.split.val, full.split.val)  # the same validation set at every k
    assert len(dm.train_set) == len(full.train_set)  # step-matched: the full split's epoch
    short = SkeletonDataModule(load_config(make_tiny_config(), ["data.per_class=2", "data.per_class_seed=7",
                                                                "data.match_steps=false"]))
    short.setup()
    assert len(short.train_set) == 6
    np.testing.assert_array_equal(short.split.train, dm.split.train)
    with pytest.raises(ConfigError, match="per_class"):
        load_config(make_tiny_config(), ["data.per_class=0"])
