"""Fitting a model: device-resident tensors, early stopping, LR schedule, seeds."""
