"""The Lightning module: the encoder (CTR-GCN or landmark) + cross-entropy (+ optional contrastive objective).

Loss (Eq. 12 of GSP-MC): ``L = CE(classify(S_g), y) + alpha * L_multi`` where ``L_multi`` is
computed by ``gspmc.losses.GSPMCObjective`` from the encoder's global and part features when
``cfg.mc.enabled``; with it disabled the module is a plain cross-entropy recogniser.

Optimisation: SGD with Nesterov momentum (the paper's recipe) or AdamW (``optim.name``); learning rate rises linearly per
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
from gspmc.train.regularize import awp_deltas, mix, mixup_draw

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


def build_optimizer(module: nn.Module, o: Any) -> torch.optim.Optimizer:
    """``optim.name``: "sgd", Nesterov momentum with weight decay on every parameter (CTR-GCN's recipe);
    "adamw", decoupled weight decay on weight matrices / kernels only, none on biases and norm scales
    (parameters with one dimension or none)."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if o.name == "adamw":
        groups = [{"params": [p for _, p in named if p.dim() > 1], "weight_decay": o.weight_decay},
                  {"params": [p for _, p in named if p.dim() <= 1], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=o.lr)
    return torch.optim.SGD([p for _, p in named], lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                           weight_decay=o.weight_decay)


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

    def _loss(self, x: torch.Tensor, y: torch.Tensor, mixed: tuple[float, torch.Tensor] | None = None,
              ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 12 for a batch; with ``mixed = (lam, y_b)`` (mixup) every term is ``lam L(y) + (1 - lam) L(y_b)``
        (gspmc.train.regularize: for the contrastive term this mixes its multi-positive targets)."""
        terms: dict[str, torch.Tensor] = {}
        lam, y_b = mixed if mixed is not None else (1.0, y)

        def both(fn: Any) -> Any:
            return fn(y) if mixed is None else lam * fn(y) + (1.0 - lam) * fn(y_b)

        if self.objective is None:
            logits = self.model(x)  # (N, K)
            loss = both(lambda t: self.criterion(logits, t))
            terms["ce"] = loss.detach()
        else:
            feats = self.model.encode(x)
            logits = self.model.classify(feats.global_)  # (N, K)
            ce = both(lambda t: self.criterion(logits, t))
            if mixed is None:
                extra = self.objective(feats, y)
            else:
                ea, eb = self.objective(feats, y), self.objective(feats, y_b)
                extra = {k: lam * ea[k] + (1.0 - lam) * eb[k] for k in ea.keys() & eb.keys()
                         if torch.is_tensor(ea[k]) and ea[k].is_floating_point()}
            loss = ce + self.cfg.mc.alpha * extra["multi"]  # Eq. 12
            terms["ce"] = ce.detach()
            terms.update({k: v.detach().float() for k, v in extra.items()
                          if torch.is_tensor(v) and v.numel() == 1 and v.is_floating_point()})
        return loss, logits, terms

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        o = self.cfg.optim
        mixed = None
        if o.mixup > 0:  # drawn from (seed, step): nothing global is consumed, a resume redraws the same
            lam, perm = mixup_draw(o.mixup, len(y), int(self.cfg.trainer.seed), int(self.global_step))
            x = mix(x, lam, perm)
            mixed = (lam, y[torch.as_tensor(perm, device=y.device)])
        if o.awp > 0 and self.current_epoch >= o.awp_epoch:
            self._awp_perturb(x, y, mixed)
        loss, logits, terms = self._loss(x, y, mixed)
        n = len(y)
        acc = (logits.argmax(1) == y).float().mean()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=n)
        self.log("train/top1", acc, on_step=False, on_epoch=True, batch_size=n)
        for k, v in terms.items():
            self.log(f"train/{k}", v, on_step=False, on_epoch=True, batch_size=n)
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=True, on_epoch=False, batch_size=n)
        return loss

    def _awp_perturb(self, x: torch.Tensor, y: torch.Tensor, mixed: tuple[float, torch.Tensor] | None) -> None:
        """AWP (gspmc.train.regularize): move each weight matrix of the model by gamma ||W|| g / ||g||, g the
        gradient of this batch's loss; the training loss is then computed at the moved weights, and
        :meth:`on_before_optimizer_step` moves them back before the step. The extra pass runs on a forked
        RNG and the text sampler's state is restored, so the loss pass draws what it would without AWP."""
        params = [p for p in self.model.parameters() if p.requires_grad and p.dim() > 1]
        text_state = self.objective.generator_state() if self.objective is not None else None
        with torch.random.fork_rng(devices=[]):
            loss, _, _ = self._loss(x, y, mixed)
        if text_state is not None:
            self.objective.set_generator_state(text_state)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        deltas = awp_deltas(params, grads, self.cfg.optim.awp)
        with torch.no_grad():
            for p, d in zip(params, deltas, strict=True):
                p.add_(d)
        self._awp_applied = list(zip(params, deltas, strict=True))

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        """Undo AWP's perturbation: the step applies the perturbed point's gradient to the weights."""
        applied = getattr(self, "_awp_applied", None)
        if applied:
            with torch.no_grad():
                for p, d in applied:
                    p.sub_(d)
            self._awp_applied = []

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)  # (N, K)
        n = len(y)
        self.log("val/loss", nn.functional.cross_entropy(logits, y), on_epoch=True, batch_size=n, sync_dist=True)
        self.log("val/top1", (logits.argmax(1) == y).float().mean(), prog_bar=True, on_epoch=True,
                 batch_size=n, sync_dist=True)

    def on_train_epoch_start(self) -> None:
        """Tell the training set which epoch it is, so augmentation differs per epoch (resumes exactly), and
        the model, whose late dropout switches on at its epoch (the landmark backbone's set_epoch)."""
        if hasattr(self.model, "set_epoch"):
            self.model.set_epoch(self.current_epoch)
        dm = getattr(self.trainer, "datamodule", None)
        ds = getattr(dm, "train_set", None)
        if ds is not None and hasattr(ds, "set_epoch"):
            ds.set_epoch(self.current_epoch)

    def configure_optimizers(self) -> dict[str, Any]:
        o = self.cfg.optim
        opt = build_optimizer(self, o)
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
