"""Evaluators: torch networks, ONNX export, onnxruntime and language-model evaluators.

``import models`` needs numpy only: onnxruntime is imported when ``OnnxEvaluator`` is first used,
torch when ``export`` or ``ResNet`` is (``models.nets``, ``models.losses`` import torch).
"""
from __future__ import annotations

import importlib
from typing import Any

from models._errors import ModelError, ModelFileError, ModelMismatchError, ModelRuntimeError
from models._hlgauss import bin_centers, bin_edges, hl_gauss_targets, histogram_mean
from models._metadata import FORMAT_VERSION, ModelInfo

# name -> module that defines it, imported on first access (keeps torch / onnxruntime out of import)
_LAZY = {
    "export": "models._export",
    "OnnxEvaluator": "models.onnx_evaluator",
    "choose_providers": "models.onnx_evaluator",
    "read_metadata": "models.onnx_evaluator",
    "shipped_model": "models._zoo",
    "TorchEvaluator": "models.torch_evaluator",  # torch + onnx; not in __all__ either
    "ResNet": "models.nets",  # torch; deliberately not in __all__ so `from models import *` stays light
    "resnet_from_onnx": "models._onnx_weights",  # torch; a ResNet rebuilt from an export, to fine-tune
    "LLMEvaluator": "models.llm", "CompositeEvaluator": "models.llm",  # numpy only; torch when a TransformersBackend is built
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "FORMAT_VERSION",
    "ModelError",
    "ModelFileError",
    "ModelInfo",
    "ModelMismatchError",
    "ModelRuntimeError",
    "OnnxEvaluator",
    "bin_centers",
    "bin_edges",
    "choose_providers",
    "export",
    "hl_gauss_targets",
    "histogram_mean",
    "read_metadata",
    "shipped_model",
]
__all__ += ["CompositeEvaluator", "LLMEvaluator"]
