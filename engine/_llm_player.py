"""``LLMPlayer``: a language model as a player, alone (greedy), inside MCTS, or inside PokéChamp minimax."""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from engine._players import Decision
from mcts import LLMBudget, Limit, LLMMinimax, SearchResult, heuristic_best

MODES = ("greedy", "mcts", "minimax")
LLM_LIMIT_KEYS = ("llm_calls", "tokens", "money")
# the keys of a ``kind=llm`` player spec besides the common ones (name, seed, limits, tc...)
LLM_SPEC_KEYS = ("mode", "url", "backend", "model", "scoring", "api", "timeout", "price", "values", "candidates",
                 "prior_temperature", "call_timeout", "threads", "prior_source", "samples", "template") + LLM_LIMIT_KEYS


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

    @property
    def search(self) -> LLMPlayer:
        """The player as a search (``run(state, limit)``, ``stop()``), for ``plytree analyse`` and
        the tournament's hang guard."""
        return self

    def run(self, state, limit: Limit) -> SearchResult:
        """The search result behind :meth:`choose`."""
        return self.choose(state, limit).result

    def stop(self) -> None:
        """Stops a running MCTS or minimax search (it returns its best move so far)."""
        stop = getattr(self._search, "stop", None)
        if stop is not None:
            stop()

    def new_game(self) -> None:
        if self._search is not None and hasattr(self._search, "reset"):
            self._search.reset()

    def __repr__(self) -> str:
        return f"LLMPlayer({self.backend!r}, mode={self.mode!r})"


def parse_price(text: Any):
    """A ``models.llm.Price`` from ``"prompt:completion"`` (money per 1,000 tokens), or None.

    Raises:
        ValueError: not two non-negative numbers.
    """
    if text is None:
        return None
    from models.llm import Price

    parts = str(text).split(":")
    try:
        prompt, completion = (float(x) for x in parts)
    except ValueError:
        raise ValueError(f"price must be prompt:completion per 1,000 tokens (e.g. 0.15:0.6), got {text!r}") from None
    return Price(prompt, completion)


def make_llm_backend(options: Mapping[str, Any]):
    """The backend of a ``kind=llm`` spec: ``url=`` (an OpenAI-compatible server, ``model=`` its model
    name, ``scoring=``, ``api=``, ``timeout=``) or in process (``backend=transformers``, ``model=`` a
    directory or ``.gguf`` file, default the embedded SmolLM2; ``threads=``); ``price=prompt:completion``.

    Raises:
        ValueError: an unknown backend, or a server backend without ``url``.
    """
    o = options
    kind = str(o.get("backend", "http" if o.get("url") else "transformers")).lower()
    prices = parse_price(o.get("price"))
    if kind == "http" or "url" in o:
        if kind != "http" or not str(o.get("url") or "").startswith(("http://", "https://")):
            raise ValueError(f"a server backend needs url=http://host:port/v1, got backend={kind}, url={o.get('url')!r}")
        from models.llm import HTTPBackend, LLMError

        backend = HTTPBackend(str(o["url"]), None if o.get("model") is None else str(o["model"]),
                              scoring=str(o.get("scoring", "auto")), api=str(o.get("api", "completions")),
                              template=str(o.get("template", "auto")),
                              timeout=float(o.get("timeout", 60.0)), prices=prices)
        if backend.scoring == "auto":
            try:  # the capability probe's requests are counted, but not in the first move's budget
                backend.probe()
            except LLMError:
                pass  # the server is not up yet: the first move probes
        return backend
    if kind == "transformers":
        from models.llm import TransformersBackend

        threads = o.get("threads")
        return TransformersBackend(None if o.get("model") is None else str(o["model"]), prices=prices,
                                   num_threads=None if threads is None else int(threads))
    raise ValueError(f"backend must be transformers or http, got {kind!r}")


def llm_player_from_options(options: Mapping[str, Any], *, name: str, seed: int) -> LLMPlayer:
    """An ``LLMPlayer`` from the options of a ``kind=llm`` spec (see :data:`LLM_SPEC_KEYS`).

    Raises:
        ValueError: a bad mode, values, backend or price.
    """
    o = options
    kwargs: dict[str, Any] = {}
    for key, arg, conv in (("prior_temperature", "prior_temperature", float), ("call_timeout", "call_timeout", float),
                           ("prior_source", "prior_source", str), ("samples", "num_samples", int)):
        if o.get(key) is not None:
            kwargs[arg] = conv(o[key])
    mode = str(o.get("mode", "greedy"))
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return LLMPlayer(make_llm_backend(o), mode, name=name, values=str(o.get("values", "fallback")),
                     depth=int(o.get("depth", 2)), candidates=int(o.get("candidates", 3)), seed=seed, **kwargs)
