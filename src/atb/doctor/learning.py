"""Learning works: each architecture must be able to memorise a tiny subset of training windows. On a market
with no signal the targets are noise, so only a model whose output depends on its input, and whose gradients
reach its weights, can drive the squared error far below the targets' variance."""

from __future__ import annotations

import numpy as np

from atb.doctor.result import CheckResult, Status
from atb.doctor.shared import pct

WINDOWS = 32  # the tiny subset: the first training windows of the learning market
MAX_STEPS = 500  # full-batch Adam steps
LEARNING_RATE = 3e-3
CHECK_EVERY = 10
REQUIRED = 0.10  # the final squared error must fall below this share of the targets' variance


def learning_check(architecture: str, variant: str, label: str, dataset, device: str = "cpu",
                   seed: int = 0) -> CheckResult:
    """``dataset``: a pipeline Dataset (atb.features.dataset) of the learning market."""
    import torch  # deferred: torch costs ~1.7 s to import

    from atb.models.factory import build_model, model_config
    from atb.training.device import resolve_device
    from atb.training.trainer import DeviceData, seed_everything

    torch_device = resolve_device(device)
    data = DeviceData(dataset, torch_device)
    x, y = data.batch(torch.from_numpy(dataset.anchors["train"][:WINDOWS]).to(torch_device))
    variance = float(y.var(unbiased=False))
    seed_everything(seed)
    model = build_model(architecture, model_config(architecture, variant, x.shape[2], x.shape[1])).to(torch_device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def loss_now() -> float:
        model.eval()  # without dropout: the error the model's function makes, not a noisy training loss
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(model(x), y))

    start, final, steps = loss_now(), float("nan"), 0
    for steps in range(1, MAX_STEPS + 1):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as the trainer does
        optimizer.step()
        if steps % CHECK_EVERY == 0:
            final = loss_now()
            if final < REQUIRED * variance:
                break
    ratio = final / variance if variance > 0 else float("nan")
    figures = {"windows": WINDOWS, "steps": steps, "target_variance": variance, "start_ratio": start / variance,
               "final_ratio": ratio, "required_ratio": REQUIRED, "learning_rate": LEARNING_RATE}
    line = (f"squared error on {WINDOWS} windows of noise: {pct(start / variance, 0)} -> {pct(ratio, 1)} of their "
            f"variance in {steps} Adam steps (required < {pct(REQUIRED, 0)})")
    if not np.isfinite(ratio) or ratio >= REQUIRED:
        return CheckResult("learning", label, Status.FAIL, line, figures,
                           "the model cannot even memorise a handful of windows: its output ignores its input, or "
                           "its gradients do not reach its weights")
    return CheckResult("learning", label, Status.PASS, line, figures)
