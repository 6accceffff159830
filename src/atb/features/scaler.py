"""Feature and target scaling, fitted on the training split only and saved beside the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scaler:
    feature_names: list[str]
    mean: np.ndarray
    std: np.ndarray
    target_std: float  # the target is divided by this (not centred: a zero return stays zero)

    @classmethod
    def fit(cls, features: np.ndarray, targets: np.ndarray, feature_names: list[str]) -> Scaler:
        mean = np.nanmean(features, axis=0)
        std = np.nanstd(features, axis=0)
        std = np.where(std > 1e-12, std, 1.0)  # a constant feature stays constant, not NaN
        target_std = float(np.nanstd(targets)) or 1.0
        return cls(list(feature_names), mean.astype(np.float64), std.astype(np.float64), target_std)

    def transform(self, features: np.ndarray) -> np.ndarray:
        scaled = (features - self.mean) / self.std
        return np.nan_to_num(scaled, nan=0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "kind": "standard",
            "fitted_on": "train",
            "feature_names": self.feature_names,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "target_std": self.target_std,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(list(d["feature_names"]), np.asarray(d["mean"]), np.asarray(d["std"]), float(d["target_std"]))
