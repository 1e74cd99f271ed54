"""Torch networks for any game of the protocol: a residual tower, a policy head, a value head.

Importing this module imports torch; ``import models`` does not (the engine runs on onnxruntime alone).
"""
from __future__ import annotations

from typing import Any, Mapping, Union

import torch
from torch import nn

from models import losses
from models._hlgauss import DEFAULT_NUM_BINS
from models._metadata import VALUE_HEADS, game_spec

GameOrSpec = Union[Any, Mapping[str, Any]]

VALUE_HIDDEN = 64  # width of the value head's hidden layer


def _spec(game_or_spec: GameOrSpec) -> dict[str, Any]:
    if isinstance(game_or_spec, Mapping):
        missing = [k for k in ("name", "observation_shape", "num_actions") if k not in game_or_spec]
        if missing:
            raise ValueError(f"network spec {dict(game_or_spec)!r} lacks {', '.join(missing)}")
        spec = {
            "name": str(game_or_spec["name"]),
            "params": dict(game_or_spec.get("params", {}) or {}),
            "observation_shape": tuple(int(d) for d in game_or_spec["observation_shape"]),
            "num_actions": int(game_or_spec["num_actions"]),
        }
    else:
        spec = game_spec(game_or_spec)
    if len(spec["observation_shape"]) != 3:
        raise ValueError(f"ResNet needs observation planes [C, H, W]; game {spec['name']!r} has "
                         f"observation_shape {spec['observation_shape']}")
    return spec


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(h)))


class ResNet(nn.Module):
    """AlphaZero-style residual network over a game's observation planes.

    Args:
        game_or_spec: a ``games.Game`` or a mapping with ``name``, ``params``, ``observation_shape``
            ``[C, H, W]`` and ``num_actions``.
        blocks: residual blocks in the tower.
        channels: convolution channels of the tower.
        value_head: ``"hlgauss"`` (categorical histogram over [-1, 1] with the HL-Gauss loss) or
            ``"wdl"`` (win/draw/loss logits).
        num_bins: histogram bins of the HL-Gauss head (ignored for WDL).

    ``forward(x [B, C, H, W]) -> (policy_logits [B, num_actions], value_logits [B, K])`` with
    ``K = num_bins`` (HL-Gauss) or 3 (WDL); :meth:`value` turns value logits into ``[B]`` values.
    """

    def __init__(self, game_or_spec: GameOrSpec, *, blocks: int = 6, channels: int = 64,
                 value_head: str = "hlgauss", num_bins: int = DEFAULT_NUM_BINS) -> None:
        super().__init__()
        if value_head not in VALUE_HEADS:
            raise ValueError(f"value_head must be one of {VALUE_HEADS}, got {value_head!r}")
        if blocks < 0 or channels < 1:
            raise ValueError(f"blocks must be >= 0 and channels >= 1, got blocks={blocks}, channels={channels}")
        if value_head == "hlgauss" and num_bins < 2:
            raise ValueError(f"num_bins must be at least 2, got {num_bins}")
        self.spec = _spec(game_or_spec)
        self.blocks = blocks
        self.channels = channels
        self.value_head = value_head
        self.num_bins = num_bins if value_head == "hlgauss" else 3
        c_in, height, width = self.spec["observation_shape"]
        area = height * width
        self.stem = nn.Sequential(nn.Conv2d(c_in, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU())
        self.tower = nn.Sequential(*[_ResidualBlock(channels) for _ in range(blocks)])
        self.policy_conv = nn.Sequential(nn.Conv2d(channels, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU())
        self.policy_fc = nn.Linear(2 * area, self.spec["num_actions"])
        self.value_conv = nn.Sequential(nn.Conv2d(channels, 1, 1, bias=False), nn.BatchNorm2d(1), nn.ReLU())
        self.value_fc = nn.Sequential(nn.Linear(area, VALUE_HIDDEN), nn.ReLU(),
                                      nn.Linear(VALUE_HIDDEN, self.num_bins))
        edges = torch.linspace(-1.0, 1.0, self.num_bins + 1)
        self.register_buffer("bin_centers", (edges[:-1] + edges[1:]) / 2, persistent=False)

    @property
    def game_name(self) -> str:
        return self.spec["name"]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.tower(self.stem(x))
        policy_logits = self.policy_fc(torch.flatten(self.policy_conv(h), 1))
        value_logits = self.value_fc(torch.flatten(self.value_conv(h), 1))
        return policy_logits, value_logits

    def value(self, value_logits: torch.Tensor) -> torch.Tensor:
        """``[B]`` values in [-1, 1]: the histogram's mean (HL-Gauss) or P(win) - P(loss) (WDL)."""
        p = torch.softmax(value_logits, dim=-1)
        if self.value_head == "hlgauss":
            return p @ self.bin_centers.to(p.dtype)
        return p[..., 0] - p[..., 2]

    def value_loss(self, value_logits: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """The head's loss against ``[B]`` target values in [-1, 1]."""
        if self.value_head == "hlgauss":
            return losses.hl_gauss_loss(value_logits, values)
        return losses.wdl_loss(value_logits, values)

    def loss(self, observations: torch.Tensor, policy_targets: torch.Tensor, values: torch.Tensor,
             legal_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """AlphaZero training loss: policy cross-entropy plus the value head's loss.

        Args:
            observations: ``[B, C, H, W]``.
            policy_targets: ``[B, num_actions]`` search policies.
            values: ``[B]`` game outcomes (or search values) for the player to move.
            legal_mask: optional boolean ``[B, num_actions]``.

        Returns:
            The scalar loss to minimise and its parts as floats (``policy``, ``value``).
        """
        policy_logits, value_logits = self(observations)
        p = losses.policy_loss(policy_logits, policy_targets, legal_mask)
        v = self.value_loss(value_logits, values)
        return p + v, {"policy": float(p.detach()), "value": float(v.detach())}


class ExportHead(nn.Module):
    """What ``models.export`` traces: observations in, ``policy_logits``, ``value`` and
    ``value_logits`` out, so that the evaluator needs no knowledge of the value head."""

    def __init__(self, net: ResNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        policy_logits, value_logits = self.net(observation)
        return policy_logits, self.net.value(value_logits), value_logits
