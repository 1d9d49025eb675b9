"""The Lightning module: CTR-GCN + cross-entropy (+ optional contrastive objective), SGD schedule.

Loss (Eq. 12 of GSP-MC): ``L = CE(classify(S_g), y) + alpha * L_multi`` where ``L_multi`` is
computed by ``gspmc.losses.GSPMCObjective`` from the encoder's global and part features when
``cfg.mc.enabled``; with it disabled the module is a plain cross-entropy CTR-GCN.

Optimisation (the paper's recipe): SGD with Nesterov momentum; learning rate rises linearly per
step over ``warmup_epochs`` to ``lr``, then is multiplied by ``gamma`` at each epoch milestone.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import nn

from gspmc.inference.checkpoint import checkpoint_meta
from gspmc.train.config import Config, config_from_dict

TEXT_GENERATOR_KEY = "gspmc_text_generator"  # checkpoint entry: GSP-MC's text-sampling generator state


def resolve_model_config(cfg: Config) -> Any:
    """The profile's ModelConfig with the config's overrides applied; ``in_channels`` follows the
    input pipeline (``cfg.input.channels``: 3, or 5 with ``input.hand_frame``)."""
    from gspmc.models import get_profile

    return get_profile(cfg.model.profile, **{"in_channels": cfg.input.channels, **cfg.model.overrides})


def lr_factor(step: int, steps_per_epoch: int, warmup_epochs: float, milestones: tuple[int, ...],
              gamma: float) -> float:
    """Multiplier of the peak lr at optimisation ``step`` (0-based): linear warm-up, then step decay.

    During warm-up the factor is ``(step + 1) / warmup_steps`` (so the first step already moves);
    afterwards it is ``gamma ** (number of milestones <= current epoch)``.
    """
    warmup_steps = int(round(warmup_epochs * steps_per_epoch))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    epoch = step // max(steps_per_epoch, 1)
    return gamma ** sum(epoch >= m for m in milestones)


def build_objective(cfg: Config, classes: list[str], layout: Any, feature_dim: int) -> nn.Module | None:
    """The contrastive objective when ``cfg.mc.enabled`` (gspmc.losses.GSPMCObjective), else None.

    ``GSPMCObjective.from_config(options, classes=..., layout=..., feature_dim=...)`` builds the
    projection heads and reads the cached text embeddings; calling it with
    ``(features, labels)`` returns a dict of named loss terms including ``"multi"`` (Eq. 11).
    """
    if not cfg.mc.enabled:
        return None
    from gspmc.losses import GSPMCObjective

    return GSPMCObjective.from_config(dict(cfg.mc.options), classes=list(classes), layout=layout,
                                      feature_dim=feature_dim, alpha=cfg.mc.alpha, seed=cfg.trainer.seed)


class RecognitionModule(L.LightningModule):
    """Trains a CTR-GCN recogniser; hyper-parameters are the plain config dict and the class names."""

    def __init__(self, config: dict[str, Any], classes: list[str]) -> None:
        super().__init__()
        self.save_hyperparameters()
        from gspmc.models import build_model
        from gspmc.pose.layouts import get_layout

        self.cfg = config_from_dict(config)
        self.config_dict = config
        self.classes = list(classes)
        self.layout = get_layout(self.cfg.input.layout)
        self.model_cfg = resolve_model_config(self.cfg)
        self.model = build_model(self.model_cfg, len(self.classes), self.layout)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=self.cfg.optim.label_smoothing)
        self.objective = None
        if self.cfg.mc.enabled:
            # the heads draw their initial weights from a forked RNG, so the global RNG after
            # construction (and so everything downstream) is the same as in the CE-only run of
            # the same seed: CE and GSP-MC runs are paired (same init, same data order)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(self.cfg.trainer.seed) + 7919)
                feature_dim = self._feature_dim()
                self.objective = build_objective(self.cfg, self.classes, self.layout, feature_dim)

    def _feature_dim(self) -> int:
        x = torch.zeros(1, self.model_cfg.in_channels, self.cfg.input.window, self.layout.num_joints)  # (1, C, T, V)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            dim = int(self.model.encode(x).global_.shape[1])
        self.model.train(was_training)
        return dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, K) for inputs (N, C, T, V)."""
        return self.model(x)

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        terms: dict[str, torch.Tensor] = {}
        if self.objective is None:
            logits = self.model(x)  # (N, K)
            loss = self.criterion(logits, y)
            terms["ce"] = loss.detach()
        else:
            feats = self.model.encode(x)
            logits = self.model.classify(feats.global_)  # (N, K)
            ce = self.criterion(logits, y)
            extra = self.objective(feats, y)
            loss = ce + self.cfg.mc.alpha * extra["multi"]  # Eq. 12
            terms["ce"] = ce.detach()
            terms.update({k: v.detach().float() for k, v in extra.items()
                          if torch.is_tensor(v) and v.numel() == 1 and v.is_floating_point()})
        return loss, logits, terms

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss, logits, terms = self._loss(x, y)
        n = len(y)
        acc = (logits.argmax(1) == y).float().mean()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=n)
        self.log("train/top1", acc, on_step=False, on_epoch=True, batch_size=n)
        for k, v in terms.items():
            self.log(f"train/{k}", v, on_step=False, on_epoch=True, batch_size=n)
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=True, on_epoch=False, batch_size=n)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)  # (N, K)
        n = len(y)
        self.log("val/loss", nn.functional.cross_entropy(logits, y), on_epoch=True, batch_size=n, sync_dist=True)
        self.log("val/top1", (logits.argmax(1) == y).float().mean(), prog_bar=True, on_epoch=True,
                 batch_size=n, sync_dist=True)

    def on_train_epoch_start(self) -> None:
        """Tell the training set which epoch it is, so augmentation differs per epoch (resumes exactly)."""
        dm = getattr(self.trainer, "datamodule", None)
        ds = getattr(dm, "train_set", None)
        if ds is not None and hasattr(ds, "set_epoch"):
            ds.set_epoch(self.current_epoch)

    def configure_optimizers(self) -> dict[str, Any]:
        o = self.cfg.optim
        params = [p for p in self.parameters() if p.requires_grad]  # weight decay on all, as in CTR-GCN
        opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                              weight_decay=o.weight_decay)
        steps_per_epoch = max(1, math.ceil(self.trainer.estimated_stepping_batches / max(self.trainer.max_epochs, 1)))
        milestones, gamma, warmup = tuple(o.milestones), o.gamma, o.warmup_epochs

        def factor(step: int) -> float:
            return lr_factor(step, steps_per_epoch, warmup, milestones, gamma)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gspmc"] = checkpoint_meta(self.config_dict, self.classes, self.model_cfg,
                                              epoch=checkpoint.get("epoch", self.current_epoch))
        if self.objective is not None:  # the text sampler draws on after a resume as it would have
            checkpoint[TEXT_GENERATOR_KEY] = self.objective.generator_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.objective is not None and TEXT_GENERATOR_KEY in checkpoint:
            self.objective.set_generator_state(checkpoint[TEXT_GENERATOR_KEY])
