"""CE and GSP-MC runs of the same seed are paired: same initial weights, same data order, same global RNG."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

from gspmc.train.config import config_to_dict, load_config
from gspmc.train.datamodule import SkeletonDataModule
from gspmc.train.module import RecognitionModule


def _module(config_path, sets: list[str]) -> tuple[RecognitionModule, torch.Tensor, list[int], np.ndarray]:
    cfg = load_config(str(config_path), sets)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)  # as gspmc.train.fit does
    dm = SkeletonDataModule(cfg)
    dm.setup("fit")
    module = RecognitionModule(config_to_dict(cfg), dm.classes)
    after = torch.rand(4)  # the global RNG right after construction
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(1)
    order = list(iter(loader.sampler))
    x, _ = next(iter(loader))
    return module, after, order, x.numpy()


def test_ce_and_gspmc_share_init_and_data_order(make_tiny_config, tiny_store) -> None:
    store, cache = tiny_store
    cfg = make_tiny_config()
    ce, rng_ce, order_ce, x_ce = _module(cfg, ["trainer.seed=3"])
    mc, rng_mc, order_mc, x_mc = _module(cfg, [
        "trainer.seed=3", "mc.enabled=true",
        f"mc.options={{store: {str(store)!r}, cache: {str(cache)!r}, embed_missing: false}}"])
    assert mc.objective is not None and ce.objective is None
    ce_w, mc_w = ce.model.state_dict(), mc.model.state_dict()
    assert ce_w.keys() == mc_w.keys()
    for k in ce_w:
        torch.testing.assert_close(mc_w[k], ce_w[k], rtol=0, atol=0, msg=k)
    torch.testing.assert_close(rng_mc, rng_ce, rtol=0, atol=0)  # building the heads consumed no global RNG
    assert order_ce == order_mc
    np.testing.assert_array_equal(x_ce, x_mc)
    # another seed really is another initialisation (the test can fail)
    other, *_ = _module(cfg, ["trainer.seed=4"])
    assert not all(torch.equal(other.model.state_dict()[k], ce_w[k]) for k in ce_w if ce_w[k].is_floating_point())
