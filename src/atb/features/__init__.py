"""Features, windows and scaling. Imports neither torch nor onnxruntime: inference shares this code."""
