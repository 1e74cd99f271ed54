"""A ``ResNet`` rebuilt from an exported ONNX file (importing this module imports torch), to fine-tune a shipped network without its
torch checkpoint.

``models.export`` folds each batch normalisation into the convolution before it (constant folding),
so the file holds a weight and a bias per convolution and no normalisation statistics. The rebuilt
network keeps the ``ResNet`` layout (its checkpoints and exports are ordinary ones): each
convolution gets the folded weight, its batch normalisation becomes the identity plus the folded
bias (running mean 0, running variance ``1 - eps``, scale 1), and :class:`FoldedResNet` keeps those
normalisations in eval mode while training, so fine-tuning starts from exactly the shipped function.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from models._errors import ModelFileError, ModelMismatchError
from models.nets import ResNet


class FoldedResNet(ResNet):
    """A ``ResNet`` whose batch normalisations stay in eval mode (see the module docstring)."""

    def train(self, mode: bool = True) -> "FoldedResNet":
        super().train(mode)
        for m in self.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()  # folded statistics: batch statistics would change the function
        return self


def resnet_from_onnx(path: str | os.PathLike) -> Any:
    """The ``FoldedResNet`` whose outputs equal those of the ONNX network at ``path``.

    Raises:
        ModelFileError: the file is missing, empty or not ONNX.
        ModelMismatchError: the file is not a plytree ``ResNet`` export (metadata or layers differ).
    """
    import onnx
    from onnx import numpy_helper

    from models._metadata import ModelInfo
    from models.onnx_evaluator import check_model_file

    check_model_file(Path(path))
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and kin
        raise ModelFileError(f"model file {str(path)!r} is not a loadable ONNX model (truncated or not ONNX?): "
                             f"{type(exc).__name__}") from exc
    info = ModelInfo.from_props({p.key: p.value for p in model.metadata_props}, str(path))
    blocks = int(info.extra.get("blocks", "-1"))
    channels = int(info.extra.get("channels", "-1"))
    if blocks < 0 or channels < 1:
        raise ModelMismatchError(f"{str(path)!r} has no ResNet blocks/channels metadata")
    spec = {"name": info.game, "params": info.game_params, "observation_shape": info.observation_shape,
            "num_actions": info.num_actions}
    net = FoldedResNet(spec, blocks=blocks, channels=channels, value_head=info.value_head, num_bins=info.num_bins)
    graph = model.graph
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
    for node in graph.node:  # the exporter shares equal folded tensors through Identity nodes
        if node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    convs = [n for n in graph.node if n.op_type == "Conv"]
    pairs: list[tuple[Any, Any]] = [(net.stem[0], net.stem[1])]
    for block in net.tower:
        pairs += [(block.conv1, block.bn1), (block.conv2, block.bn2)]
    pairs += [(net.policy_conv[0], net.policy_conv[1]), (net.value_conv[0], net.value_conv[1])]
    if len(convs) != len(pairs) or any(len(n.input) != 3 for n in convs):
        raise ModelMismatchError(f"{str(path)!r}: {len(convs)} convolutions with folded biases expected "
                                 f"{len(pairs)} (a ResNet with {blocks} blocks)")
    with torch.no_grad():
        for node, (conv, bn) in zip(convs, pairs):
            w, b = weights[node.input[1]], weights[node.input[2]]
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ModelMismatchError(f"{str(path)!r}: convolution {node.name} is {tuple(w.shape)}, "
                                         f"the network's is {tuple(conv.weight.shape)}")
            conv.weight.copy_(w)
            bn.weight.fill_(1.0)
            bn.bias.copy_(b)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        state = net.state_dict()
        for name in ("policy_fc.weight", "policy_fc.bias", "value_fc.0.weight", "value_fc.0.bias",
                     "value_fc.2.weight", "value_fc.2.bias"):
            state[name].copy_(weights[f"net.{name}"])
    net.eval()
    return net
