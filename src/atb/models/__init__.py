"""Forecasting architectures: one module each, a shared variants table and a factory."""
