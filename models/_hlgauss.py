"""The HL-Gauss value histogram of "Stop Regressing" (Farebrother et al., 2024), in numpy.

A scalar value ``y`` in [-1, 1] becomes a categorical target over ``num_bins`` equal bins of
[-1, 1]: the mass a Gaussian ``N(y, sigma^2)`` puts on each bin, renormalised over [-1, 1], with
``sigma = 0.75 x bin width``. The network's value is the mean of its predicted histogram. The torch
twins used in training live in ``models.losses``; these need only numpy (evaluators, tests, tools).
"""
from __future__ import annotations

import math

import numpy as np

SIGMA_RATIO = 0.75  # sigma / bin width, the paper's recommended setting
DEFAULT_NUM_BINS = 51


def bin_edges(num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
    """float64 ``[num_bins + 1]``: equal bins over [-1, 1]."""
    if num_bins < 2:
        raise ValueError(f"num_bins must be at least 2, got {num_bins!r}")
    return np.linspace(-1.0, 1.0, num_bins + 1)


def bin_centers(num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
    """float64 ``[num_bins]``: the value each bin stands for."""
    e = bin_edges(num_bins)
    return (e[:-1] + e[1:]) / 2


def hl_gauss_targets(values: np.ndarray, num_bins: int = DEFAULT_NUM_BINS, *,
                     sigma_ratio: float = SIGMA_RATIO) -> np.ndarray:
    """Categorical targets for scalar values.

    Args:
        values: ``[B]`` (or any shape ``S``) scalars in [-1, 1]; values outside are clipped.
        num_bins: histogram bins over [-1, 1].
        sigma_ratio: Gaussian sigma in bin widths.

    Returns:
        float64 ``[*S, num_bins]``: non-negative, each row summing to one.
    """
    y = np.clip(np.asarray(values, dtype=np.float64), -1.0, 1.0)[..., None]
    edges = bin_edges(num_bins)
    sigma = sigma_ratio * (edges[1] - edges[0])
    erf = np.vectorize(math.erf, otypes=[np.float64])
    cdf = erf((edges - y) / (math.sqrt(2.0) * sigma))  # 2 * Phi - 1; the factor cancels below
    mass = cdf[..., 1:] - cdf[..., :-1]
    return mass / mass.sum(axis=-1, keepdims=True)


def histogram_mean(probabilities: np.ndarray) -> np.ndarray:
    """The value a histogram stands for.

    Args:
        probabilities: ``[..., num_bins]`` rows summing to one.

    Returns:
        ``[...]``: the mean of the bin centers under each row.
    """
    p = np.asarray(probabilities)
    return p @ bin_centers(p.shape[-1]).astype(p.dtype, copy=False)
