"""Ratings of a tournament: Elo by maximum likelihood with 95% error bars, LOS, and the SPRT.

Elo model: Bradley-Terry on the logistic Elo scale, a draw counted as half a win and half a loss
(what Ordo and most testers do; BayesElo's extra draw parameter changes little once the draw rate is
known). Ratings are fitted by Newton's method over all pairs at once, centred on mean 0, and their
covariance is the pseudo-inverse of the Fisher information (the Hessian of the negative
log-likelihood), so error bars and LOS come from the same fit.

SPRT: the generalised sequential probability ratio test that fishtest runs on pentanomial game pairs
(see Michel Van den Bergh, "A generalised SPRT", 2021): the log-likelihood ratio of the two
hypotheses "expected score is L(elo0)" and "expected score is L(elo1)", each with the multinomial
distribution over the five pair scores that is most likely under its constraint.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def expected_score(elo_diff: float) -> float:
    """Logistic expected score of a player ``elo_diff`` Elo above its opponent."""
    return 1.0 / (1.0 + 10.0 ** (-elo_diff / 400.0))


def elo_from_score(score: float) -> float:
    """The Elo difference whose expected score is ``score`` (0 < score < 1)."""
    if not 0.0 < score < 1.0:
        raise ValueError(f"score must be strictly between 0 and 1, got {score!r}")
    return -400.0 * math.log10(1.0 / score - 1.0)


def los(wins: float, losses: float) -> float:
    """Likelihood of superiority from a head-to-head record: P(the first player is stronger).

    Draws carry no information on which player is stronger, so only wins and losses count.
    """
    if wins + losses == 0:
        return 0.5
    return 0.5 * (1.0 + math.erf((wins - losses) / math.sqrt(2.0 * (wins + losses))))


@dataclass(frozen=True)
class Ratings:
    """A fit of Elo ratings.

    Attributes:
        names: the players, in the order of the arrays below.
        elo: ``[P]`` ratings centred on mean 0.
        error: ``[P]`` half-width of each rating's 95% interval (inf when a player's games do not
            connect it to the others).
        covariance: ``[P, P]`` covariance of the ratings.
        games: ``[P]`` games per player.
        score: ``[P]`` points (win 1, draw 1/2) per player.
        draws: ``[P]`` draws per player.
    """

    names: tuple[str, ...]
    elo: np.ndarray
    error: np.ndarray
    covariance: np.ndarray
    games: np.ndarray
    score: np.ndarray
    draws: np.ndarray

    def index(self, name: str) -> int:
        return self.names.index(name)

    def diff(self, a: str, b: str) -> tuple[float, float]:
        """Elo of ``a`` minus ``b`` and the half-width of its 95% interval."""
        i, j = self.index(a), self.index(b)
        var = self.covariance[i, i] + self.covariance[j, j] - 2.0 * self.covariance[i, j]
        return float(self.elo[i] - self.elo[j]), float(Z95 * math.sqrt(max(var, 0.0)))

    def los(self, a: str, b: str) -> float:
        """P(a is stronger than b) under the fitted (normal) posterior of the two ratings."""
        d, half = self.diff(a, b)
        if half == 0.0 or not math.isfinite(half):
            return 0.5 if half != 0.0 else float(d > 0)
        sd = half / Z95
        return 0.5 * (1.0 + math.erf(d / (sd * math.sqrt(2.0))))


def fit_elo(
    names: Sequence[str],
    results: np.ndarray,
    *,
    prior_draws: float = 0.0,
    max_iter: int = 100,
) -> Ratings:
    """Maximum-likelihood Elo over all pairs.

    Args:
        names: ``P`` player names.
        results: ``[P, P, 3]`` counts; ``results[i, j]`` is (wins, draws, losses) of ``i`` against ``j``,
            and ``results[j, i]`` the same games from ``j``'s side (``results[i, j]`` reversed).
        prior_draws: virtual draws added to every pair that played (BayesElo's prior); it keeps
            ratings finite when a player won or lost every game. 0 gives the plain MLE.
        max_iter: Newton iterations.

    Returns:
        The fit. Ratings are centred on mean 0 over the players.

    Raises:
        ValueError: ``results`` is not ``[P, P, 3]``, has negative counts or is not symmetric.
    """
    results = np.asarray(results, dtype=np.float64)
    p = len(names)
    if results.shape != (p, p, 3):
        raise ValueError(f"results must have shape [{p}, {p}, 3], got {list(results.shape)}")
    if (results < 0).any():
        raise ValueError("results has negative counts")
    if not np.allclose(results, results[:, :, ::-1].transpose(1, 0, 2)):
        raise ValueError("results must hold every pair from both sides: results[j, i] == results[i, j] reversed")
    wdl = results
    n = wdl.sum(axis=2)
    played = n > 0
    s = wdl[:, :, 0] + 0.5 * wdl[:, :, 1] + 0.5 * prior_draws * played
    n = n + prior_draws * played
    k = math.log(10.0) / 400.0
    r = np.zeros(p)
    hess = np.zeros((p, p))
    for _ in range(max_iter):
        e = 1.0 / (1.0 + np.exp(-k * (r[:, None] - r[None, :])))
        grad = k * (s - n * e).sum(axis=1)
        w = k * k * n * e * (1.0 - e)
        hess = np.diag(w.sum(axis=1)) - w
        step = np.linalg.pinv(hess) @ grad
        step = np.clip(step, -200.0, 200.0)  # a 100% score drifts off slowly instead of overflowing
        r = r + step
        r -= r.mean()
        if np.abs(step).max() < 1e-7:
            break
    e = 1.0 / (1.0 + np.exp(-k * (r[:, None] - r[None, :])))
    w = k * k * n * e * (1.0 - e)
    hess = np.diag(w.sum(axis=1)) - w
    cov = _covariance(hess, played)
    err = Z95 * np.sqrt(np.clip(np.diag(cov), 0.0, None))
    raw = results
    return Ratings(
        names=tuple(names),
        elo=r,
        error=err,
        covariance=cov,
        games=raw.sum(axis=(1, 2)),
        score=(raw[:, :, 0] + 0.5 * raw[:, :, 1]).sum(axis=1),
        draws=raw[:, :, 1].sum(axis=1),
    )


def _covariance(hess: np.ndarray, played: np.ndarray) -> np.ndarray:
    """Covariance of mean-centred ratings: pseudo-inverse of the Fisher information.

    A player not connected to the others by games gets infinite variance.
    """
    p = hess.shape[0]
    cov = np.linalg.pinv(hess)
    if p > 1:
        # the graph of games is connected iff the Hessian has exactly one zero eigenvalue
        eig = np.linalg.eigvalsh(hess)
        if (eig < 1e-12 * max(1.0, eig.max())).sum() > 1:
            lonely = ~played.any(axis=1)
            cov[lonely, :] = np.inf
            cov[:, lonely] = np.inf
    return cov


# ---------------------------------------------------------------------------------------------
# SPRT on pentanomial pairs

PAIR_SCORES = np.array([0.0, 0.25, 0.5, 0.75, 1.0])  # LL, LD+DL, WL+LW+DD, WD+DW, WW as a fraction


def pair_bin(points: float) -> int:
    """Pentanomial bin (0..4) of a game pair from the points of one player (0, 0.5, ..., 2)."""
    b = int(round(points * 2.0))
    if not 0 <= b <= 4 or abs(points * 2.0 - b) > 1e-9:
        raise ValueError(f"a game pair scores 0, 0.5, 1, 1.5 or 2 points, got {points!r}")
    return b


def _regularize(counts: np.ndarray | Sequence[float]) -> np.ndarray:
    # as fishtest: an empty bin gets a tiny count so that the constrained MLE exists
    c = np.asarray(counts, dtype=np.float64)
    return np.where(c == 0, 1e-3, c)


def mle_expected(pdf: np.ndarray, scores: np.ndarray, target: float) -> np.ndarray:
    """The distribution ``q`` maximising ``sum(pdf * log q)`` subject to ``sum(q * scores) == target``.

    The maximiser is ``q_i = pdf_i / (1 + x (scores_i - target))`` with ``x`` the root of
    ``sum(pdf_i (scores_i - target) / (1 + x (scores_i - target))) = 0`` on the interval where every
    denominator is positive; the function is decreasing there, so bisection finds it.

    Args:
        pdf: ``[K]`` observed frequencies (positive, summing to 1).
        scores: ``[K]`` score of each outcome.
        target: the expected score to impose (strictly between min and max of ``scores``).

    Returns:
        ``[K]`` probabilities.
    """
    d = scores - target
    lo = -1.0 / d.max() if d.max() > 0 else -1e12
    hi = -1.0 / d.min() if d.min() < 0 else 1e12
    eps = 1e-12 * (hi - lo)
    lo, hi = lo + eps, hi - eps

    def f(x: float) -> float:
        return float((pdf * d / (1.0 + x * d)).sum())

    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    q = pdf / (1.0 + x * d)
    return q / q.sum()


def llr_pentanomial(counts: Sequence[float], elo0: float, elo1: float) -> float:
    """Generalised log-likelihood ratio of H1 (elo1) against H0 (elo0) from pentanomial counts.

    Args:
        counts: ``[5]`` numbers of game pairs scoring 0, 1/2, 1, 3/2 and 2 points for the tested player.
        elo0, elo1: the hypotheses, in logistic Elo.

    Returns:
        The LLR; 0 when there are no pairs.
    """
    arr = np.asarray(counts, dtype=np.float64)
    if arr.shape != (5,):
        raise ValueError(f"pentanomial counts must be 5 numbers, got {arr.tolist()!r}")
    if arr.sum() == 0:
        return 0.0
    c = _regularize(arr)
    n = c.sum()
    pdf = c / n
    q0 = mle_expected(pdf, PAIR_SCORES, expected_score(elo0))
    q1 = mle_expected(pdf, PAIR_SCORES, expected_score(elo1))
    return float(n * (pdf * np.log(q1 / q0)).sum())


@dataclass(frozen=True)
class SprtResult:
    """State of an SPRT.

    Attributes:
        llr: log-likelihood ratio so far.
        lower, upper: the bounds ``log(beta / (1 - alpha))`` and ``log((1 - beta) / alpha)``.
        decision: "H1" (accept elo1: the test passed), "H0" (accept elo0: it failed) or None.
        pairs: pentanomial counts.
    """

    llr: float
    lower: float
    upper: float
    decision: Optional[str]
    pairs: tuple[int, ...]


@dataclass(frozen=True)
class Sprt:
    """An SPRT on game pairs with its hypotheses and error rates."""

    elo0: float = 0.0
    elo1: float = 5.0
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not (0 < self.alpha < 1 and 0 < self.beta < 1):
            raise ValueError(f"SPRT alpha and beta must lie in (0, 1), got {self.alpha}, {self.beta}")
        if self.elo1 <= self.elo0:
            raise ValueError(f"SPRT elo1 must exceed elo0, got elo0={self.elo0}, elo1={self.elo1}")

    @property
    def bounds(self) -> tuple[float, float]:
        return math.log(self.beta / (1.0 - self.alpha)), math.log((1.0 - self.beta) / self.alpha)

    def status(self, pairs: Sequence[int]) -> SprtResult:
        lower, upper = self.bounds
        llr = llr_pentanomial(pairs, self.elo0, self.elo1)
        decision = "H1" if llr >= upper else ("H0" if llr <= lower else None)
        return SprtResult(llr, lower, upper, decision, tuple(int(x) for x in pairs))

    @classmethod
    def parse(cls, text: str) -> "Sprt":
        """``"elo0=0,elo1=5,alpha=0.05,beta=0.05"`` (any subset) into an ``Sprt``."""
        kwargs: dict[str, float] = {}
        for part in filter(None, (t.strip() for t in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in ("elo0", "elo1", "alpha", "beta"):
                raise ValueError(f"bad --sprt item {part!r}: expected elo0=, elo1=, alpha= or beta=")
            kwargs[key.strip()] = float(value)
        return cls(**kwargs)
