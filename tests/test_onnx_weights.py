"""A ResNet rebuilt from an ONNX export (models._onnx_weights) computes what the file computes, and
keeps doing so in train mode (its folded batch normalisations stay fixed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import games  # noqa: E402
import models  # noqa: E402
from models._errors import ModelMismatchError  # noqa: E402
from models._onnx_weights import resnet_from_onnx  # noqa: E402
from models.nets import ResNet  # noqa: E402


def _outputs(net, states) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        logits, value_logits = net(torch.tensor(np.stack([s.observation() for s in states])).float())
    return torch.softmax(logits, -1).numpy(), net.value(value_logits).numpy()


def test_rebuilt_network_matches_the_file(tmp_path: Path) -> None:
    game = games.load("connect4")
    torch.manual_seed(0)
    net = ResNet(game, blocks=2, channels=16)
    net.train()
    for _ in range(3):  # non-trivial batch-norm statistics
        net(torch.rand(32, 3, 6, 7))
    net.eval()
    path = models.export(net, game, tmp_path / "n.onnx")
    states = [game.deserialize(m) for m in ("4", "4455", "1234567", "44444")]
    ev = models.OnnxEvaluator(path, game=game)
    priors, values = ev.evaluate(states)
    back = resnet_from_onnx(path)
    assert (back.blocks, back.channels) == (2, 16)
    back.train()  # still the same function: batch statistics are not used
    p, v = _outputs(back, states)
    np.testing.assert_allclose(p, priors, atol=1e-5)
    np.testing.assert_allclose(v, values, atol=1e-5)
    # one training step changes it, and it exports again
    loss, _ = back.loss(torch.rand(8, 3, 6, 7), torch.full((8, 7), 1 / 7), torch.zeros(8))
    loss.backward()
    models.export(back, game, tmp_path / "m.onnx")


def test_a_file_of_another_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"not onnx")
    with pytest.raises(Exception):
        resnet_from_onnx(path)
    shipped = models.shipped_model("connect4")
    data = Path(shipped).read_bytes().replace(b"blocks", b"blockz")  # metadata without the tower size
    (tmp_path / "noblocks.onnx").write_bytes(data)
    with pytest.raises(ModelMismatchError):
        resnet_from_onnx(tmp_path / "noblocks.onnx")


def test_a_missing_or_corrupt_file_is_a_clear_model_file_error(tmp_path) -> None:
    # found by fuzzing `plytree learn connect4 --supervised --init`: a corrupt file raised protobuf's
    # DecodeError with a traceback, after the labelling
    from models._errors import ModelFileError

    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        resnet_from_onnx(tmp_path / "bad.onnx")
    with pytest.raises(ModelFileError, match="does not exist"):
        resnet_from_onnx(tmp_path / "missing.onnx")
