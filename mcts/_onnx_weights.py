"""The initialisers and metadata of an ONNX file, read straight from its protobuf encoding.

The C evaluations in ``mcts`` (``mcts._nnue``) load their weights once from the ONNX model file.
Reading the few protobuf fields they need (``ModelProto.graph.initializer``, ``ModelProto.metadata_props``)
takes 80 lines of Python, so the engine needs neither the ``onnx`` package nor torch at run time.
Supported tensors: float32, int8, int16, int32 and int64, in ``raw_data`` or the typed repeated
fields; external data is refused.
"""
from __future__ import annotations

import os
import struct
from typing import Union

import numpy as np


class OnnxFormatError(ValueError):
    """The file is not an ONNX model this reader understands."""


# TensorProto.DataType -> numpy dtype
_DTYPES = {1: np.float32, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise OnnxFormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of a message: ints for varints, bytes for the rest."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos:pos + length]
            if len(value) != length:
                raise OnnxFormatError("truncated field")
            pos += length
        elif wire == 1:
            value = buf[pos:pos + 8]
            pos += 8
        elif wire == 5:
            value = buf[pos:pos + 4]
            pos += 4
        else:
            raise OnnxFormatError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed_varints(value: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(v)
    return out


def _tensor(buf: bytes) -> tuple[str, np.ndarray]:
    dims: list[int] = []
    dtype = 0
    name = ""
    raw = None
    floats: list[float] = []
    ints: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            dims += _packed_varints(value) if wire == 2 else [value]
        elif number == 2:
            dtype = value
        elif number == 4:   # float_data
            floats += list(struct.unpack(f"<{len(value) // 4}f", value)) if wire == 2 else [struct.unpack("<f", value)[0]]
        elif number in (5, 7):   # int32_data, int64_data
            vals = _packed_varints(value) if wire == 2 else [value]
            ints += [v - (1 << 64) if v >= 1 << 63 else v for v in vals]
        elif number == 8:
            name = value.decode()
        elif number == 9:
            raw = value
        elif number == 14:
            raise OnnxFormatError(f"tensor {name or '?'} keeps its data outside the file (external data)")
    if dtype not in _DTYPES:
        raise OnnxFormatError(f"tensor {name!r} has unsupported data type {dtype}")
    np_dtype = _DTYPES[dtype]
    if raw is not None:
        array = np.frombuffer(raw, dtype=np.dtype(np_dtype).newbyteorder("<")).astype(np_dtype)
    elif dtype == 1:
        array = np.array(floats, np.float32)
    else:
        array = np.array(ints, np.int64).astype(np_dtype)
    size = int(np.prod(dims)) if dims else 1
    if array.size != size:
        raise OnnxFormatError(f"tensor {name!r}: {array.size} values for shape {dims}")
    return name, array.reshape(dims)


def read_onnx_weights(path: Union[str, os.PathLike]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The initialisers (name -> array) and ``metadata_props`` (key -> value) of an ONNX file.

    Raises:
        FileNotFoundError: no such file.
        OnnxFormatError: not a readable ONNX model.
    """
    with open(path, "rb") as f:
        data = f.read()
    weights: dict[str, np.ndarray] = {}
    props: dict[str, str] = {}
    graphs = 0
    try:
        for number, wire, value in _fields(data):
            if number == 7 and wire == 2:
                graphs += 1
                for n2, w2, v2 in _fields(value):
                    if n2 == 5 and w2 == 2:
                        name, array = _tensor(v2)
                        weights[name] = array
            elif number == 14 and wire == 2:
                entry = {n: v for n, w, v in _fields(value) if w == 2}
                props[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
    except (UnicodeDecodeError, struct.error) as exc:
        raise OnnxFormatError(f"{path}: not an ONNX model ({exc})") from exc
    if not graphs:
        raise OnnxFormatError(f"{path}: not an ONNX model (no graph)")
    return weights, props
