"""Evaluators: torch networks, ONNX export, onnxruntime and language-model evaluators."""

__all__: list[str] = []
