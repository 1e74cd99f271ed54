"""``LLMEvaluator``: a language model behind the batched evaluator protocol, and ``CompositeEvaluator``."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from mcts import LLMBudget, Limit
from models.llm._oracle import LLMOracle


class LLMEvaluator:
    """A language model as a batched ``mcts.Evaluator``: move priors from the log-likelihood of each
    legal move's text, values from the 1-100 value prompt (or the fallback), cached by state hash.

    Args:
        backend: an ``LLMBackend``.
        game: the game searched.
        values: ``"llm"`` (value prompt, fallback on failure) or ``"fallback"`` (the fallback's values,
            no value prompt: one model call per batch instead of two).
        cache_size: states whose results are kept.
        **oracle_kwargs: passed to :class:`LLMOracle` (``prior_temperature``, ``fallback``,
            ``call_timeout``, ``prompts``).

    Raises:
        ValueError: ``values`` is not one of the two.
    """

    def __init__(self, backend, game, *, values: str = "llm", cache_size: int = 200_000, **oracle_kwargs) -> None:
        if values not in ("llm", "fallback"):
            raise ValueError(f"values must be 'llm' or 'fallback', got {values!r}")
        self.oracle = LLMOracle(backend, game, use_model_values=values == "llm", **oracle_kwargs)
        self.backend = backend
        self.game = game
        self.num_actions = int(game.num_actions)
        self.cache_size = cache_size
        self._cache: OrderedDict[int, tuple[np.ndarray, float]] = OrderedDict()
        self._budget: LLMBudget | None = None
        self._on_exhausted: Callable[[], None] | None = None
        self.budget_exhausted = False

    @property
    def stats(self):
        """Counters of illegal answers, fallbacks, timeouts and cache hits."""
        return self.oracle.stats

    def set_budget(self, limit: Limit | None, on_exhausted: Callable[[], None] | None = None) -> None:
        """Charges later calls to ``limit`` (its ``llm_calls``, ``tokens`` and ``time``); once spent,
        states get the fallback's answers and ``on_exhausted`` (e.g. the search's ``stop``) is called."""
        if self._budget is not None:
            self._budget.close()
        self._budget = LLMBudget(limit, self.backend) if limit is not None else None
        self._on_exhausted = on_exhausted
        self.budget_exhausted = False

    def evaluate(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Priors float32 ``[B, num_actions]`` and values float32 ``[B]`` (see ``mcts.Evaluator``)."""
        n = len(states)
        priors = np.zeros((n, self.num_actions), dtype=np.float32)
        values = np.zeros(n, dtype=np.float32)
        todo = []
        for i, s in enumerate(states):
            hit = self._cache.get(s.hash())
            if hit is not None:
                self._cache.move_to_end(s.hash())
                priors[i], values[i] = hit
                self.oracle.stats["cache_hits"] += 1
            else:
                todo.append(i)
        if not todo:
            return priors, values
        batch = [states[i] for i in todo]
        if self._budget is not None and self._budget.exhausted():
            self._spent()
            p, v = self.oracle.fallback.evaluate(batch)
            priors[todo], values[todo] = p, v
            return priors, values  # not cached: a fallback answer is not the model's
        timeout = self._budget.seconds_left() if self._budget is not None else None
        p = self.oracle.priors(batch, timeout=timeout)
        if self._budget is not None and self._budget.refused:  # the budget refused: the fallback answered
            self._spent()
            v = np.asarray(self.oracle.fallback.evaluate(batch)[1], dtype=np.float32)
            priors[todo], values[todo] = p, v
            return priors, values
        timeout = self._budget.seconds_left() if self._budget is not None else None
        v, _ = self.oracle.values(batch, timeout=timeout)
        keep = self._budget is None or not self._budget.refused  # fallback values are not the model's
        for j, i in enumerate(todo):
            priors[i], values[i] = p[j], v[j]
            if keep:
                self._cache[states[i].hash()] = (p[j].copy(), float(v[j]))
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        if self._budget is not None and self._budget.exhausted():
            self._spent()
        return priors, values

    def _spent(self) -> None:
        if not self.budget_exhausted:
            self.budget_exhausted = True
            if self._on_exhausted is not None:
                self._on_exhausted()

    def clear_cache(self) -> None:
        self._cache.clear()

    def __repr__(self) -> str:
        return f"LLMEvaluator({self.backend!r}, {self.game!r})"


class CompositeEvaluator:
    """Priors from one evaluator and values from another (e.g. LLM priors with rollout values).

    Args:
        priors_from: evaluator whose priors are used.
        values_from: evaluator whose values are used.
    """

    def __init__(self, *, priors_from, values_from) -> None:
        for name, ev in (("priors_from", priors_from), ("values_from", values_from)):
            if not callable(getattr(ev, "evaluate", None)):
                raise ValueError(f"{name}={ev!r} has no evaluate(states) method")
        self.priors_from = priors_from
        self.values_from = values_from

    def evaluate(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Priors float32 ``[B, num_actions]`` of ``priors_from``, values float32 ``[B]`` of ``values_from``."""
        priors, _ = self.priors_from.evaluate(states)
        _, values = self.values_from.evaluate(states)
        return np.asarray(priors, dtype=np.float32), np.asarray(values, dtype=np.float32)

    def set_budget(self, limit, on_exhausted=None) -> None:
        for ev in (self.priors_from, self.values_from):
            if callable(getattr(ev, "set_budget", None)):
                ev.set_budget(limit, on_exhausted)

    def __repr__(self) -> str:
        return f"CompositeEvaluator(priors_from={self.priors_from!r}, values_from={self.values_from!r})"
