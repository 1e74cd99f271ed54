"""``LLMPlayer``: a language model as a player, alone (greedy), inside MCTS, or inside PokéChamp minimax."""
from __future__ import annotations

import time
from typing import Any

from engine._players import Decision
from mcts import LLMBudget, Limit, LLMMinimax, SearchResult, heuristic_best

MODES = ("greedy", "mcts", "minimax")


class LLMPlayer:
    """A language model playing a game.

    Args:
        backend: an ``models.llm.LLMBackend``.
        mode: ``"greedy"`` (the legal move with the highest log-likelihood), ``"mcts"`` (``mcts.MCTS``
            with the model's priors; values from ``values``), or ``"minimax"`` (``mcts.LLMMinimax``).
        name: label in records (default ``llm-<mode>``).
        limit: used when ``choose`` gets an unbounded limit (default: 32 simulations for mcts,
            nothing else).
        values: ``"fallback"`` (MCTS values from the fallback evaluator) or ``"llm"`` (the value prompt).
        fallback: heuristic evaluator (default ``mcts.RolloutEvaluator(num_rollouts=8, seed=seed)``).
        depth, candidates: minimax settings.
        seed: seeds MCTS and the default fallback.
        mcts_kwargs: extra ``mcts.MCTS`` settings.
        minimax_kwargs: extra ``mcts.LLMMinimax`` settings (``add_heuristic``).
        **oracle_kwargs: ``models.llm.LLMOracle`` settings (``prior_temperature``, ``call_timeout``...).

    Raises:
        ValueError: unknown ``mode`` or ``values``.
    """

    def __init__(self, backend, mode: str = "greedy", *, name: str | None = None, limit: Limit | None = None,
                 values: str = "fallback", fallback=None, depth: int = 2, candidates: int = 3, seed: int = 0,
                 mcts_kwargs: dict | None = None, minimax_kwargs: dict | None = None,
                 **oracle_kwargs) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if values not in ("fallback", "llm"):
            raise ValueError(f"values must be 'fallback' or 'llm', got {values!r}")
        self.backend = backend
        self.mode = mode
        self.name = name or f"llm-{mode}"
        self.default_limit = limit or (Limit(simulations=32) if mode == "mcts" else Limit())
        self.values = values
        if fallback is None:
            from mcts import RolloutEvaluator

            fallback = RolloutEvaluator(num_rollouts=8, seed=seed)
        self.fallback = fallback
        self.depth = depth
        self.candidates = candidates
        self.seed = seed
        self.mcts_kwargs = dict(mcts_kwargs or {})
        self.minimax_kwargs = dict(minimax_kwargs or {})
        self.oracle_kwargs = oracle_kwargs
        self._game: Any = None
        self._search: Any = None
        self._oracle: Any = None
        self._evaluator: Any = None
        self._llm_evaluator: Any = None

    def _build(self, game) -> None:
        from models.llm import CompositeEvaluator, LLMEvaluator, LLMOracle

        self._game = game
        self._oracle = LLMOracle(self.backend, game, fallback=self.fallback,
                                 use_model_values=self.values == "llm", **self.oracle_kwargs)
        if self.mode == "minimax":
            self._search = LLMMinimax(game, self._oracle, depth=self.depth, candidates=self.candidates,
                                      model_values=self.values == "llm", **self.minimax_kwargs)
        elif self.mode == "mcts":
            from mcts import MCTS

            llm = LLMEvaluator(self.backend, game, values=self.values, fallback=self.fallback, **self.oracle_kwargs)
            self._evaluator = llm if self.values == "llm" else CompositeEvaluator(priors_from=llm, values_from=self.fallback)
            self._llm_evaluator = llm
            kwargs = {"batch_size": 4, "seed": self.seed} | self.mcts_kwargs
            self._search = MCTS(game, self._evaluator, **kwargs)

    @property
    def stats(self):
        """The oracle's counters (illegal answers, fallbacks, timeouts)."""
        if self.mode == "mcts" and self._search is not None:
            return self._llm_evaluator.stats
        return self._oracle.stats if self._oracle is not None else {}

    def choose(self, state, limit: Limit | None = None) -> Decision:
        """The model's move in ``state``; always a legal one (the heuristic answers when the model cannot)."""
        bounded = limit is not None and (not limit.is_unbounded or limit.money is not None)
        lim = limit if bounded else self.default_limit
        if self._game is None or state.game is not self._game:
            self._build(state.game)
        if self.mode == "greedy":
            result = self._greedy(state, lim)
        elif self.mode == "minimax":
            result = self._search.run(state, lim)
        else:
            self._llm_evaluator.set_budget(lim, on_exhausted=self._search.stop)
            only_model = all(getattr(lim, f) is None for f in ("simulations", "nodes", "time", "wtime", "btime"))
            # a limit of the model alone: MCTS runs until the budget is spent (the evaluator stops it)
            result = self._search.run(state, lim.replace(infinite=True) if only_model else lim)
            self._llm_evaluator.set_budget(None)
        action = result.best_action
        if action not in state.legal_actions():  # never hand back an illegal move
            action = heuristic_best(state, self.fallback)
        return Decision(int(action), result)

    def _greedy(self, state, limit: Limit) -> SearchResult:
        t0 = time.monotonic()
        legal = state.legal_actions()
        with LLMBudget(limit, self.backend) as budget:
            if budget.exhausted():
                priors = None
            else:
                failures = self._oracle.stats["prior_fallbacks"]
                priors = self._oracle.priors([state], timeout=budget.seconds_left())[0]
                if self._oracle.stats["prior_fallbacks"] > failures:
                    priors = None  # the model failed or the budget refused: the heuristic chooses
        if priors is None:
            best = heuristic_best(state, self.fallback)
            reason = budget.reason() or "fallback"
            pri: tuple[float, ...] = ()
        else:
            best = max(legal, key=lambda a: priors[a])
            reason = "greedy"
            pri = tuple(float(priors[a]) for a in legal)
        return SearchResult(best_action=int(best), actions=tuple(legal), priors=pri, pv=(int(best),), depth=1,
                            seconds=time.monotonic() - t0, stop_reason=reason, extra=budget.extra())

    def new_game(self) -> None:
        if self._search is not None and hasattr(self._search, "reset"):
            self._search.reset()

    def __repr__(self) -> str:
        return f"LLMPlayer({self.backend!r}, mode={self.mode!r})"
