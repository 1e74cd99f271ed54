"""Build players from short descriptions (``random``, ``human``, ``mcts``, ``alphabeta``, ``default``)."""
from __future__ import annotations

from typing import Optional

from engine._players import HumanPlayer, RandomPlayer, SearchPlayer
from mcts import Limit


def make_player(
    kind: str,
    game,
    *,
    simulations: int = 800,
    depth: Optional[int] = None,
    movetime: float = 1.0,
    model: Optional[str] = None,
    seed: Optional[int] = None,
    name: Optional[str] = None,
):
    """A player of ``kind`` for ``game``; the player's ``default_limit`` is its per-move budget.

    ``default`` is the engine's strongest player for the game: MCTS on the shipped network where
    one exists, else MCTS with random rollouts (alpha-beta for chess).

    Raises:
        ValueError: unknown kind, or a model file that does not fit the game.
    """
    kind = kind.lower()
    label = name or kind
    if kind == "default":
        kind = "alphabeta" if game.name.startswith("chess") else "mcts"
        if model is None and kind == "mcts":
            model = _shipped_model(game)
    if kind == "random":
        p = RandomPlayer(seed, name=label)
        p.default_limit = Limit(simulations=1)
        return p
    if kind == "human":
        p = HumanPlayer(name=label)
        p.default_limit = Limit(simulations=1)
        return p
    if kind == "mcts":
        import mcts

        if model is not None:
            import models

            evaluator = models.OnnxEvaluator(model, game=game)
        else:
            evaluator = mcts.RolloutEvaluator(seed=seed or 0)
        return SearchPlayer(mcts.MCTS(game, evaluator, seed=seed or 0), label, Limit(simulations=simulations))
    if kind == "alphabeta":
        import mcts

        limit = Limit(depth=depth) if depth is not None else Limit(time=movetime)
        return SearchPlayer(mcts.AlphaBeta(game), label, limit)
    raise ValueError(f"unknown player kind {kind!r}; known: random, human, mcts, alphabeta, default")


def _shipped_model(game) -> Optional[str]:
    """Path of the network shipped for ``game``, or None."""
    try:
        import models
    except ImportError:
        return None
    finder = getattr(models, "shipped_model", None)
    return finder(game) if finder is not None else None
