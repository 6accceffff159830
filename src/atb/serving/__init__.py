"""The prediction server (`atb serve`): FastAPI over ONNX Runtime (no torch), hot reload of the champion,
shadow and split routing of a challenger, a batched prediction log, live forecasting at every bar close, and the
A/B report that decides a promotion with a Diebold-Mariano test."""
