"""Scoring forecasts on the untouched test split: metrics, naive baseline, statistical tests, latency."""
