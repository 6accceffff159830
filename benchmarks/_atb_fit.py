"""One timed atb fit, run by benchmarks/peer_throughput.py in a process of its own.

The data are loaded and the features and windows built as `atb train model` does (untimed); then
atb.training.trainer.fit runs with patience = epochs, so every epoch runs, and the fit's own clock
(`FitResult.training_time_s`: every epoch's training steps and validation pass, the best-weights copy and
restore) is the figure. Prints one JSON line.

    python _atb_fit.py --architecture tcn --data-file FILE --days 365 --epochs 20 --batch-size 32 --threads 2
"""

from __future__ import annotations

import argparse
import json

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
    return p.parse_args()


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
    print(json.dumps({
        "framework": "atb", "model": f"{args.architecture} ({args.variant})", "fit_s": result.training_time_s,
        "train_windows": len(dataset.anchors["train"]), "val_windows": len(dataset.anchors["validation"]),
        "epochs": result.epochs_run, "parameters": count_parameters(model), "threads": threads,
        "batch_size": args.batch_size, "input_channels": len(dataset.feature_names), "torch": torch.__version__,
        "best_val_loss": result.best_val_loss, "final_train_loss": result.history[-1].train_loss,
    }))


if __name__ == "__main__":
    main()
