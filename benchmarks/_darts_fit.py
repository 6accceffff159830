"""One timed Darts fit, run by benchmarks/peer_throughput.py with the Darts virtual environment's python.

Imports only darts, torch, pandas and numpy (no atb), so it runs where atb is not installed. It reads the
arrays that peer_throughput.py wrote (the same rows atb trains and validates on), builds the peer model,
times `model.fit(...)` alone and prints one JSON line: fit seconds, training and validation sample counts,
parameter count, epochs run.

    python _darts_fit.py DATA.npz --model tcn|lstm --epochs 20 --batch-size 32 --threads 2 --seed 42
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import warnings

import numpy as np
import torch

INPUT_CHUNK, OUTPUT_CHUNK = 60, 1


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="npz from peer_throughput.py: train_target, train_cov, val_target, val_cov")
    p.add_argument("--model", choices=("tcn", "lstm"), required=True)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--tcn-filters", type=int, default=48)
    p.add_argument("--tcn-kernel", type=int, default=3)
    p.add_argument("--tcn-dilation-base", type=int, default=2)
    p.add_argument("--lstm-hidden", type=int, default=64)
    p.add_argument("--lstm-layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1, help="atb's models use 0.1")
    p.add_argument("--no-validation", action="store_true", help="Fit without the validation series.")
    return p.parse_args()


def build(args: argparse.Namespace, work_dir: str):
    from darts.models import BlockRNNModel, TCNModel

    common = dict(
        input_chunk_length=INPUT_CHUNK, output_chunk_length=OUTPUT_CHUNK, batch_size=args.batch_size,
        n_epochs=args.epochs, random_state=args.seed, dropout=args.dropout, work_dir=work_dir,
        save_checkpoints=False, log_tensorboard=False,
        pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
                           "logger": False, "enable_checkpointing": False},
    )
    if args.model == "tcn":
        return TCNModel(num_filters=args.tcn_filters, kernel_size=args.tcn_kernel,
                        dilation_base=args.tcn_dilation_base, weight_norm=False, **common)
    return BlockRNNModel(model="LSTM", hidden_dim=args.lstm_hidden, n_rnn_layers=args.lstm_layers, **common)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    for name in ("darts", "pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from darts import TimeSeries

    arrays = np.load(args.data)

    def series(prefix: str) -> tuple:
        return (TimeSeries.from_values(arrays[f"{prefix}_target"].astype(np.float32)),
                TimeSeries.from_values(arrays[f"{prefix}_cov"].astype(np.float32)))

    train, train_cov = series("train")
    val, val_cov = (None, None) if args.no_validation else series("val")
    with tempfile.TemporaryDirectory(prefix="darts-peer-") as work_dir:
        model = build(args, work_dir)
        t0 = time.perf_counter()
        model.fit(train, past_covariates=train_cov, val_series=val, val_past_covariates=val_cov,
                  epochs=args.epochs, verbose=False)
        fit_s = time.perf_counter() - t0
        # Counted by Darts itself, after the clock: the samples one epoch of fit() iterates over.
        samples = len(model._build_train_dataset(series=[train], past_covariates=[train_cov], future_covariates=None,
                                                 sample_weight=None, max_samples_per_ts=None, stride=1))
        val_samples = 0 if val is None else len(model._build_train_dataset(
            series=[val], past_covariates=[val_cov], future_covariates=None, sample_weight=None,
            max_samples_per_ts=None, stride=1))
        module = model.model
        print(json.dumps({
            "framework": "darts", "model": type(model).__name__, "fit_s": fit_s,
            "train_windows": samples, "val_windows": val_samples, "epochs": module.epochs_trained,
            "parameters": sum(p.numel() for p in module.parameters()), "threads": torch.get_num_threads(),
            "batch_size": args.batch_size, "input_channels": train.width + train_cov.width,
            "torch": torch.__version__, "darts": __import__("darts").__version__,
        }))


if __name__ == "__main__":
    main()
