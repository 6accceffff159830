"""One timed atb fit, run by benchmarks/peer_throughput.py in a process of its own.

The data are loaded and the features and windows built as `atb train model` does (untimed); then
atb.training.trainer.fit runs with patience = epochs, so every epoch runs, and the fit's own clock
(`FitResult.training_time_s`: every epoch's training steps and validation pass, the best-weights copy and
restore) is the figure. Then, outside that clock, one epoch of forward + loss + backward alone: the
model's own floor, which bounds what any change to the loop could gain. Prints one JSON line.

    python _atb_fit.py --architecture tcn --data-file FILE --days 365 --epochs 20 --batch-size 32 --threads 2
"""

from __future__ import annotations

import argparse
import json
import time

from atb.models.factory import ARCHITECTURES, build_model, count_parameters, model_config
from atb.training.device import configure_threads
from atb.training.pipeline import TrainRequest, prepare_data
from atb.training.trainer import DeviceData, TrainConfig, fit, seed_everything


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architecture", choices=ARCHITECTURES, required=True)
    p.add_argument("--variant", default="default")
    p.add_argument("--data-file", required=True)
    p.add_argument("--days", type=float, default=365)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--sequence-length", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--floor-epochs", type=int, default=1,
                   help="After the fit, time this many epochs of forward + loss + backward alone (0: skip).")
    return p.parse_args()


def forward_backward_floor(model, data: DeviceData, cfg: TrainConfig, epochs: int) -> float | None:
    """Windows/s of the model's forward, loss and backward alone over the training windows (batches gathered
    before the clock starts; no clipping, no optimiser step, no validation): what no training loop can beat."""
    from torch import nn

    if epochs < 1:
        return None
    model.train()
    loss_fn = nn.MSELoss()
    anchors = data.anchors["train"]
    batches = [data.batch(anchors[i: i + cfg.batch_size]) for i in range(0, len(anchors), cfg.batch_size)]
    t0 = time.perf_counter()
    for _ in range(epochs):
        for x, y in batches:
            model.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
    return len(anchors) * epochs / (time.perf_counter() - t0)


def main() -> None:
    args = parse_args()
    import torch

    threads = configure_threads(args.threads)
    req = TrainRequest(symbol="BTCUSDT", architecture=args.architecture, variant=args.variant, days=args.days,
                       epochs=args.epochs, batch_size=args.batch_size, sequence_length=args.sequence_length,
                       patience=args.epochs, seed=args.seed, device="cpu", data_source="file",
                       data_file=args.data_file, log_to_db=False)
    _, dataset = prepare_data(req)
    config = model_config(args.architecture, args.variant, len(dataset.feature_names), args.sequence_length)
    seed_everything(args.seed)
    model = build_model(args.architecture, config)
    data = DeviceData(dataset, torch.device("cpu"))
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=args.epochs, seed=args.seed)
    result = fit(model, data, cfg)
    floor = forward_backward_floor(model, data, cfg, args.floor_epochs)
    print(json.dumps({
        "framework": "atb", "model": f"{args.architecture} ({args.variant})", "fit_s": result.training_time_s,
        "train_windows": len(dataset.anchors["train"]), "val_windows": len(dataset.anchors["validation"]),
        "epochs": result.epochs_run, "parameters": count_parameters(model), "threads": threads,
        "batch_size": args.batch_size, "input_channels": len(dataset.feature_names), "torch": torch.__version__,
        "best_val_loss": result.best_val_loss, "final_train_loss": result.history[-1].train_loss,
        "forward_backward_windows_per_s": floor,
    }))


if __name__ == "__main__":
    main()
