"""The training loop. Every tensor lives on the device from the start: windows are strided views of
one feature matrix, batches are index gathers, and the loss is read back once per epoch."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from atb.features.dataset import Dataset


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 5  # epochs without a better validation loss before stopping
    seed: int = 42
    loss: str = "mse"  # or "huber"
    grad_clip: float = 1.0
    lr_factor: float = 0.5
    lr_patience: int = 2


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float
    lr: float
    seconds: float
    best: bool
    # The validation MSE of the scaled target, whatever the training loss: what a search compares across trials
    # (a Huber loss is about half an MSE, so val_loss of two losses is not comparable).
    val_mse: float = float("nan")


@dataclass
class FitResult:
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    training_time_s: float = 0.0
    stopped_early: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class DeviceData:
    """The dataset's arrays on the device, and batch gathering without Python loops over windows."""

    def __init__(self, dataset: Dataset, device: torch.device):
        self.length = dataset.sequence_length
        self.features = torch.from_numpy(dataset.features).to(device)
        self.targets = torch.from_numpy(np.nan_to_num(dataset.targets)).to(device)
        self.windows = self.features.unfold(0, self.length, 1)  # (rows-L+1, features, L), a view
        self.anchors = {k: torch.from_numpy(v).to(device) for k, v in dataset.anchors.items()}

    def batch(self, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.windows[anchors - (self.length - 1)].transpose(1, 2)  # (batch, L, features)
        return x, self.targets[anchors]


def fit(
    model: nn.Module,
    data: DeviceData,
    cfg: TrainConfig,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> FitResult:
    device = data.features.device
    seed_everything(cfg.seed)
    model.to(device)
    loss_fn: nn.Module = nn.HuberLoss() if cfg.loss == "huber" else nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience
    )
    generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
    train_anchors = data.anchors["train"]
    n = len(train_anchors)
    result = FitResult()
    best_state = copy.deepcopy(model.state_dict())
    start = time.perf_counter()

    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = train_anchors[torch.randperm(n, generator=generator).to(device)]
        total = torch.zeros((), device=device)
        for i in range(0, n, cfg.batch_size):
            x, y = data.batch(order[i : i + cfg.batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            total += loss.detach() * len(y)
        train_loss = float(total) / n  # the one host sync of the epoch
        val_loss, val_mse = _validation_losses(model, data, loss_fn)
        scheduler.step(val_loss)

        improved = val_loss < result.best_val_loss
        if improved:
            result.best_val_loss, result.best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        stats = EpochStats(epoch, train_loss, val_loss, optimizer.param_groups[0]["lr"],
                           time.perf_counter() - t0, improved, val_mse)
        result.history.append(stats)
        if on_epoch:
            on_epoch(stats)
        if epoch - result.best_epoch >= cfg.patience:
            result.stopped_early = True
            break

    model.load_state_dict(best_state)  # restore the weights of the best validation epoch
    result.training_time_s = time.perf_counter() - start
    return result


@torch.no_grad()
def predict(model: nn.Module, data: DeviceData, split: str, batch_size: int = 4096) -> np.ndarray:
    """Scaled predictions for every anchor of a split, in order."""
    return _predict_on_device(model, data, split, batch_size).cpu().numpy()


@torch.no_grad()
def evaluate_loss(model: nn.Module, data: DeviceData, split: str, loss_fn: nn.Module) -> float:
    preds = _predict_on_device(model, data, split)  # stays on the device: no copy to the host and back
    return float(loss_fn(preds, data.targets[data.anchors[split]]))


@torch.no_grad()
def _validation_losses(model: nn.Module, data: DeviceData, loss_fn: nn.Module) -> tuple[float, float]:
    """(the training loss, MSE) on the validation split, from one forward pass."""
    preds = _predict_on_device(model, data, "validation")
    targets = data.targets[data.anchors["validation"]]
    loss = float(loss_fn(preds, targets))
    return loss, loss if isinstance(loss_fn, nn.MSELoss) else float(nn.functional.mse_loss(preds, targets))


def _predict_on_device(model: nn.Module, data: DeviceData, split: str, batch_size: int = 4096) -> torch.Tensor:
    model.eval()
    anchors = data.anchors[split]
    return torch.cat([model(data.batch(anchors[i : i + batch_size])[0]) for i in range(0, len(anchors), batch_size)])
