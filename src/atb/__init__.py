"""atb: train, evaluate and benchmark deep-learning price-forecasting models for crypto markets."""

__version__ = "0.1.0"
