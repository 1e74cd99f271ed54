"""``models.export``: a torch network to an ONNX file that carries its own description.

(The module is ``_export`` so that the function ``models.export`` is never shadowed by a submodule.)
"""
from __future__ import annotations

import copy
import io
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Union

from models._errors import ModelMismatchError
from models._metadata import (INPUT_NAME, POLICY_OUTPUT, VALUE_LOGITS_OUTPUT, VALUE_OUTPUT, ModelInfo,
                              describe, encode_metadata_props, game_spec, same_params)

DEFAULT_OPSET = 17  # onnxruntime >= 1.14 runs it everywhere; newer ops bring nothing to a ResNet


def export(net: Any, game: Any, path: Union[str, os.PathLike], *, opset: int = DEFAULT_OPSET,
           extra_metadata: Optional[dict[str, str]] = None) -> Path:
    """Writes ``net`` as ONNX with a dynamic batch axis and plytree metadata.

    The graph has one input ``observation`` float32 ``[B, *game.observation_shape]`` and outputs
    ``policy_logits`` ``[B, num_actions]``, ``value`` ``[B]`` (histogram mean or P(win) - P(loss),
    computed in the graph) and ``value_logits`` ``[B, num_bins]``. The network is traced on the CPU
    in eval mode from a copy; ``net`` itself is left as it was.

    Args:
        net: a ``models.nets.ResNet`` (or any module with its ``spec``, ``value_head``, ``num_bins``
            and ``value``).
        game: the ``games.Game`` the network is for (None: the game the network was built for).
        path: file to write (replaced atomically).
        opset: ONNX opset.
        extra_metadata: more string entries for ``metadata_props``.

    Returns:
        The path written.

    Raises:
        ModelMismatchError: ``net`` was built for another game or another shape of it.
    """
    import torch

    from models.nets import ExportHead

    spec = net.spec
    if game is not None:
        want = game_spec(game)
        if (want["name"] != spec["name"] or not same_params(want["params"], spec["params"])
                or want["observation_shape"] != tuple(spec["observation_shape"])
                or want["num_actions"] != spec["num_actions"]):
            raise ModelMismatchError(
                f"cannot export a network built for {describe(spec['name'], spec['params'])} "
                f"(observations {tuple(spec['observation_shape'])}, {spec['num_actions']} actions) as a "
                f"network for {describe(want['name'], want['params'])} (observations "
                f"{want['observation_shape']}, {want['num_actions']} actions)")
    info = ModelInfo(
        game=spec["name"], game_params=dict(spec["params"]),
        observation_shape=tuple(spec["observation_shape"]), num_actions=int(spec["num_actions"]),
        value_head=net.value_head, num_bins=int(net.num_bins),
        extra={"blocks": str(getattr(net, "blocks", "")), "channels": str(getattr(net, "channels", "")),
               "producer": "plytree", **(extra_metadata or {})},
    )
    module = ExportHead(copy.deepcopy(net).cpu().eval()).eval()
    dummy = torch.zeros((2, *info.observation_shape), dtype=torch.float32)
    buffer = io.BytesIO()
    kwargs: dict[str, Any] = dict(
        input_names=[INPUT_NAME],
        output_names=[POLICY_OUTPUT, VALUE_OUTPUT, VALUE_LOGITS_OUTPUT],
        dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, POLICY_OUTPUT, VALUE_OUTPUT, VALUE_LOGITS_OUTPUT)},
        opset_version=opset,
        do_constant_folding=True,
    )
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter is "legacy" but needs no onnxscript and keeps dynamic_axes simple
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (dummy,), buffer, dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5 has no dynamo argument and exports this way by default
            buffer = io.BytesIO()
            torch.onnx.export(module, (dummy,), buffer, **kwargs)
    data = buffer.getvalue() + encode_metadata_props(info.to_props())
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
