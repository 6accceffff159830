"""Forecasting with a registered model through ONNX Runtime alone (torch is never imported here)."""
