"""Errors of the model layer: bad model files and models given for the wrong game."""
from __future__ import annotations


class ModelError(ValueError):
    """Base class of bad-input errors about networks and model files."""


class ModelFileError(ModelError):
    """A model file is missing, unreadable, not ONNX, or not a plytree network (shapes, metadata).

    The message names the file and what is wrong with it.
    """


class ModelMismatchError(ModelError):
    """A network was given for a game other than the one it was built for."""


class ModelRuntimeError(RuntimeError):
    """onnxruntime failed while running a model that loaded; the cause is attached."""
