"""What a plytree ONNX model says about itself: metadata keys, reading them back, and writing them.

Every exported network carries these string entries in the ONNX ``metadata_props`` (onnxruntime reads
them as ``session.get_modelmeta().custom_metadata_map``):

=====================  ==============================================================
``plytree_format``     format version, an int (this code writes and reads ``1``)
``game``               game name as ``games.load`` knows it (``"connect4"``)
``game_params``        the game's parameters as JSON (``{"board_size": 5, "swap": false}``)
``observation_shape``  JSON list, the input's shape without the batch axis (``[3, 6, 7]``)
``num_actions``        int, width of ``policy_logits``
``value_head``         ``"hlgauss"`` or ``"wdl"``
``num_bins``           int, width of ``value_logits`` (histogram bins; 3 for WDL)
``blocks``             int, residual blocks (informative)
``channels``           int, tower width (informative)
=====================  ==============================================================
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

FORMAT_VERSION = 1
INPUT_NAME = "observation"
POLICY_OUTPUT = "policy_logits"
VALUE_OUTPUT = "value"
VALUE_LOGITS_OUTPUT = "value_logits"
VALUE_HEADS = ("hlgauss", "wdl")
REQUIRED_KEYS = ("plytree_format", "game", "game_params", "observation_shape", "num_actions",
                 "value_head", "num_bins")


@dataclass(frozen=True)
class ModelInfo:
    """The metadata of a plytree network (see the module docstring for the keys)."""

    game: str
    game_params: dict[str, Any]
    observation_shape: tuple[int, ...]
    num_actions: int
    value_head: str
    num_bins: int
    format_version: int = FORMAT_VERSION
    extra: dict[str, str] = field(default_factory=dict)

    def to_props(self) -> dict[str, str]:
        """The string entries written into the model."""
        props = {
            "plytree_format": str(self.format_version),
            "game": self.game,
            "game_params": json.dumps(self.game_params, sort_keys=True),
            "observation_shape": json.dumps(list(self.observation_shape)),
            "num_actions": str(self.num_actions),
            "value_head": self.value_head,
            "num_bins": str(self.num_bins),
        }
        props.update(self.extra)
        return props

    @classmethod
    def from_props(cls, props: Mapping[str, str], where: str) -> "ModelInfo":
        """Parses metadata entries.

        Args:
            props: the model's ``custom_metadata_map``.
            where: the file name, for error messages.

        Raises:
            ModelFileError: a key is missing or malformed, or the format is newer than this code.
        """
        from models._errors import ModelFileError

        missing = [k for k in REQUIRED_KEYS if k not in props]
        if missing:
            raise ModelFileError(
                f"{where}: not a plytree network: metadata lacks {', '.join(missing)} "
                f"(export networks with models.export)")
        try:
            version = int(props["plytree_format"])
            params = json.loads(props["game_params"])
            shape = tuple(int(d) for d in json.loads(props["observation_shape"]))
            num_actions = int(props["num_actions"])
            num_bins = int(props["num_bins"])
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{where}: malformed plytree metadata ({exc})") from exc
        if version > FORMAT_VERSION or version < 1:
            raise ModelFileError(f"{where}: model format {version} is not supported (this plytree reads "
                                 f"up to {FORMAT_VERSION})")
        if not isinstance(params, dict):
            raise ModelFileError(f"{where}: metadata game_params is not a JSON object: {props['game_params']!r}")
        head = props["value_head"]
        if head not in VALUE_HEADS:
            raise ModelFileError(f"{where}: unknown value_head {head!r} (expected one of {VALUE_HEADS})")
        if num_actions < 1 or num_bins < 2 or not shape or min(shape) < 1:
            raise ModelFileError(f"{where}: implausible metadata: observation_shape={shape}, "
                                 f"num_actions={num_actions}, num_bins={num_bins}")
        extra = {k: v for k, v in props.items() if k not in REQUIRED_KEYS}
        return cls(props["game"], params, shape, num_actions, head, num_bins, version, extra)


def game_spec(game: Any) -> dict[str, Any]:
    """Name, params, observation shape and action count of a game object (``games.Game``)."""
    return {
        "name": str(game.name),
        "params": dict(getattr(game, "params", {}) or {}),
        "observation_shape": tuple(int(d) for d in game.observation_shape),
        "num_actions": int(game.num_actions),
    }


def same_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Game parameters compared as their JSON (tuples and lists alike)."""
    return json.dumps(dict(a), sort_keys=True) == json.dumps(dict(b), sort_keys=True)


def describe(name: str, params: Mapping[str, Any]) -> str:
    """``hex(board_size=5, swap=False)``: a game for error messages."""
    inner = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
    return f"{name}({inner})" if inner else name


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def encode_metadata_props(props: Mapping[str, str]) -> bytes:
    """Serialised ``ModelProto.metadata_props`` entries (field 14 of ModelProto).

    Protobuf merges repeated fields appended after a message's bytes, so appending this to an
    exported model adds the entries without needing the ``onnx`` package (the GPU image and lean
    installs may lack it; torch's exporter does not).
    """
    out = bytearray()
    for key, value in props.items():
        entry = _length_delimited(1, key.encode()) + _length_delimited(2, value.encode())
        out += _length_delimited(14, entry)
    return bytes(out)
