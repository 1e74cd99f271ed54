"""Training losses in torch: HL-Gauss and WDL value losses, policy cross-entropy.

Conventions: values are from the view of the player to move, in [-1, 1]; WDL logits are ordered
(win, draw, loss) for that player.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from models._hlgauss import DEFAULT_NUM_BINS, SIGMA_RATIO

NEG_LARGE = -1e9  # stands for -inf in masked logits without producing NaN (0 * -inf)


def hl_gauss_targets(values: torch.Tensor, num_bins: int = DEFAULT_NUM_BINS, *,
                     sigma_ratio: float = SIGMA_RATIO) -> torch.Tensor:
    """HL-Gauss categorical targets (see ``models._hlgauss``), differentiable-free.

    Args:
        values: ``[B]`` scalars in [-1, 1] (clipped).
        num_bins: bins over [-1, 1].
        sigma_ratio: sigma in bin widths (0.75 as in "Stop Regressing").

    Returns:
        ``[B, num_bins]`` of the dtype of ``values`` (float32 at least), rows summing to one.
    """
    dtype = values.dtype if values.is_floating_point() else torch.float32
    y = values.to(torch.float64).clamp(-1.0, 1.0).unsqueeze(-1)
    edges = torch.linspace(-1.0, 1.0, num_bins + 1, dtype=torch.float64, device=values.device)
    sigma = sigma_ratio * 2.0 / num_bins
    cdf = torch.special.erf((edges - y) / (math.sqrt(2.0) * sigma))
    mass = cdf[..., 1:] - cdf[..., :-1]
    return (mass / mass.sum(dim=-1, keepdim=True)).to(dtype)


def hl_gauss_loss(value_logits: torch.Tensor, values: torch.Tensor, *,
                  sigma_ratio: float = SIGMA_RATIO) -> torch.Tensor:
    """Cross-entropy between predicted histograms and HL-Gauss targets, averaged over the batch.

    Args:
        value_logits: ``[B, num_bins]``.
        values: ``[B]`` target values in [-1, 1].
    """
    targets = hl_gauss_targets(values, value_logits.shape[-1], sigma_ratio=sigma_ratio)
    return -(targets * F.log_softmax(value_logits, dim=-1)).sum(-1).mean()


def histogram_mean(value_logits: torch.Tensor) -> torch.Tensor:
    """``[B]``: the value of each predicted histogram (softmax, then mean of the bin centers)."""
    k = value_logits.shape[-1]
    edges = torch.linspace(-1.0, 1.0, k + 1, dtype=value_logits.dtype, device=value_logits.device)
    centers = (edges[:-1] + edges[1:]) / 2
    return F.softmax(value_logits, dim=-1) @ centers


def wdl_targets(values: torch.Tensor) -> torch.Tensor:
    """``[B, 3]`` (win, draw, loss) distributions whose win - loss equals the value.

    1 -> (1, 0, 0), 0 -> (0, 1, 0), -1 -> (0, 0, 1); fractional values (averaged returns) spread
    between draw and the nearer outcome.
    """
    v = values.to(torch.float32).clamp(-1.0, 1.0)
    win = v.clamp(min=0.0)
    loss = (-v).clamp(min=0.0)
    return torch.stack([win, 1.0 - win - loss, loss], dim=-1)


def wdl_loss(value_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a win/draw/loss head, averaged over the batch.

    Args:
        value_logits: ``[B, 3]`` (win, draw, loss) logits.
        targets: ``[B]`` values in [-1, 1] (see :func:`wdl_targets`), ``[B]`` int64 classes
            (0 win, 1 draw, 2 loss), or ``[B, 3]`` probabilities.
    """
    if targets.dtype in (torch.int64, torch.int32):
        return F.cross_entropy(value_logits, targets.long())
    probs = wdl_targets(targets) if targets.dim() == 1 else targets
    return -(probs * F.log_softmax(value_logits, dim=-1)).sum(-1).mean()


def wdl_value(value_logits: torch.Tensor) -> torch.Tensor:
    """``[B]``: P(win) - P(loss)."""
    p = F.softmax(value_logits, dim=-1)
    return p[..., 0] - p[..., 2]


def policy_loss(policy_logits: torch.Tensor, targets: torch.Tensor,
                legal_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Cross-entropy between search policies and the network's, averaged over the batch.

    Args:
        policy_logits: ``[B, num_actions]``.
        targets: ``[B, num_actions]`` probabilities (visit distributions), zero off legal actions.
        legal_mask: optional boolean ``[B, num_actions]``; illegal logits are left out of the
            softmax, as the evaluator does at play time.
    """
    if legal_mask is not None:
        policy_logits = policy_logits.masked_fill(~legal_mask.bool(), NEG_LARGE)
    return -(targets * F.log_softmax(policy_logits, dim=-1)).sum(-1).mean()
