"""The UCI engine's search objects: built from the options, prepared and reset off the protocol thread.

Building a search allocates its table (``Hash`` MiB) and ``ucinewgame`` clears it; with a large
``Hash`` either takes long enough to stall ``isready``. ``SearchCache`` does both on a background
thread and the next ``go`` waits for it (in the search worker, never on the protocol thread).
"""
from __future__ import annotations

import inspect
import threading
from typing import Any, Callable, Optional

import mcts
from engine._uci_options import REBUILD_OPTIONS
from mcts import InfoRelay

__all__ = ["SearchCache", "SearchFactory", "default_search_factory", "hashfull", "load_game"]

SearchFactory = Callable[[Any, dict, InfoRelay], Any]


def load_game(chess960: bool) -> Any:
    """The plytree chess (or Chess960) game."""
    import games

    return games.load("chess960" if chess960 else "chess")


def _construct(cls: Any, *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)`` without the keyword arguments ``cls`` does not take."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return cls(*args, **kwargs)
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return cls(*args, **kwargs)


def default_search_factory(game: Any, options: dict, relay: InfoRelay) -> Any:
    """The engine's search for ``game`` under the UCI ``options`` (keys lower-case).

    ``alphabeta``: ``mcts.AlphaBeta`` with the engine's own chess evaluation, ``Hash`` MiB of table,
    ``Threads`` searchers (Lazy SMP); ``mcts``: ``Threads`` evaluator batches in flight.
    ``mcts``: ``mcts.MCTS`` over the ``ModelFile`` network (``models.OnnxEvaluator``), or without one
    over ``mcts.ChessEvaluator`` (the C searcher's evaluation with a quiescence search as value,
    exchange-ordered priors; the whole batch in C).
    """
    memory = int(options["hash"]) << 20
    if options["searchkind"] == "mcts":
        model = options["modelfile"]
        if model:
            import models

            evaluator: Any = models.OnnxEvaluator(model, game=game)
        else:
            evaluator = mcts.ChessEvaluator()
        return _construct(mcts.MCTS, game, evaluator, on_info=relay, c_puct=options["cpuct"] / 100.0,
                          batch_size=options["batchsize"], memory_limit=memory,
                          threads=int(options.get("threads", 1)))
    # on the bitboard board mcts.AlphaBeta runs the C searcher, else python-chess's; UseNNUE: the learned
    # evaluation (EvalFile, by default the shipped network) in the C searcher
    eval_file = (options.get("evalfile") or "default") if options.get("usennue") else None
    return _construct(mcts.AlphaBeta, game, on_info=relay, tt_bytes=memory, eval_file=eval_file,
                      threads=int(options.get("threads", 1)))


class SearchCache:
    """The games and the one search the engine keeps between moves.

    ``prepare`` and ``reset`` run on a background thread and return at once; ``get`` (called by the
    search worker) waits for them, then returns the search for the current options, building it if
    the options changed. A search still held by an abandoned worker (see ``UciEngine``) is never
    handed out again.

    Args:
        factory: ``(game, options, relay) -> search``.
        game_factory: ``(chess960) -> game``.
        report: receives a sentence about a fault in background work (printed as ``info string``).
    """

    def __init__(self, factory: SearchFactory, game_factory: Callable[[bool], Any],
                 report: Callable[[str], None]) -> None:
        self._factory = factory
        self._game_factory = game_factory
        self._report = report
        self._lock = threading.Lock()  # held while building, resetting or handing out
        self._games: dict[bool, Any] = {}
        self.search: Any = None
        self.relay = InfoRelay()
        self._key: Optional[tuple] = None
        self._wanted: Optional[dict] = None
        self._tainted: list[tuple[Any, threading.Thread]] = []  # searches abandoned workers may still run
        self._taint_lock = threading.Lock()
        self._background: list[threading.Thread] = []

    # ------------------------------------------------------------------ on the protocol thread
    def prepare(self, options: dict) -> None:
        """Builds the game and search for ``options`` in the background (``isready``)."""
        self._wanted = dict(options)
        self._spawn(self._prepare_wanted, "plytree-uci-prepare")

    def reset(self) -> None:
        """Forgets what the search learnt (``ucinewgame``), in the background."""
        self._spawn(self._reset_now, "plytree-uci-reset")

    def abandon(self, search: Any, worker: threading.Thread) -> None:
        """Marks ``search`` as in use by ``worker``, which did not stop: never hand it out again."""
        if search is not None:
            with self._taint_lock:
                self._tainted.append((search, worker))

    def _is_tainted(self, search: Any) -> bool:
        with self._taint_lock:
            self._tainted = [(s, w) for s, w in self._tainted if w.is_alive()]
            return any(s is search for s, _ in self._tainted)

    def is_idle(self) -> bool:
        """True when no background work is pending and a search is built (a ``go`` would not wait)."""
        return self.search is not None and not self.is_busy()

    def is_busy(self) -> bool:
        """True while background work is pending."""
        self._background = [t for t in self._background if t.is_alive()]
        return bool(self._background)

    def _spawn(self, work: Callable[[], None], name: str) -> None:
        def locked() -> None:
            with self._lock:
                try:
                    work()
                except Exception as exc:  # reported, and the next go builds again
                    self.search, self._key = None, None
                    self._report(f"search preparation failed: {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=locked, name=name, daemon=True)
        self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    # ------------------------------------------------------------------ under the lock
    def _prepare_wanted(self) -> None:
        options = self._wanted
        if options is not None:
            self._build(self.game(bool(options["uci_chess960"])), options)

    def _reset_now(self) -> None:
        search = self.search
        if search is None or self._is_tainted(search):
            return
        reset = getattr(search, "reset", None)
        if reset is not None:
            try:
                reset()
            except Exception as exc:
                self._report(f"reset failed ({type(exc).__name__}: {exc}); building a new search")
                self.search, self._key = None, None

    def game(self, chess960: bool) -> Any:
        """The game for ``chess960`` (loaded once)."""
        if chess960 not in self._games:
            self._games[chess960] = self._game_factory(chess960)
        return self._games[chess960]

    def _build(self, game: Any, options: dict) -> Any:
        key = (id(game),) + tuple(options[k] for k in sorted(REBUILD_OPTIONS))
        if self.search is not None and self._key == key and not self._is_tainted(self.search):
            return self.search
        self.search, self._key = None, None
        self.relay = InfoRelay()
        try:
            self.search = self._factory(game, dict(options), self.relay)
        except Exception as exc:
            if options["searchkind"] == "alphabeta" and self._factory is default_search_factory:
                raise
            # e.g. a network that does not fit: say so, and play with the engine's own search
            self._report(f"cannot build the {options['searchkind']} search ({type(exc).__name__}: {exc}); "
                         "using alphabeta")
            self.search = default_search_factory(game, {**options, "searchkind": "alphabeta"}, self.relay)
        self._key = key
        return self.search

    # ------------------------------------------------------------------ in the search worker
    def get(self, chess960: bool, options: dict) -> tuple[Any, Any, InfoRelay]:
        """The game, the search for it under ``options`` and the relay the search reports to.

        Waits for background work first.
        """
        with self._lock:
            game = self.game(chess960)
            search = self._build(game, options)
            return game, search, self.relay


def hashfull(search: Any) -> Optional[int]:
    """Permille of the table (alpha-beta) or tree memory (MCTS) in use, where the search shows it."""
    try:
        backend: Any = getattr(search, "_backend", None)
        for part in (search, backend):  # the C chess searcher samples its own table
            method = getattr(part, "hashfull", None)
            if callable(method):
                return int(method())
        memory_limit = getattr(search, "memory_limit", None)
        if hasattr(search, "tree_bytes") and memory_limit:
            return min(1000, int(1000 * search.tree_nodes * search.node_size / memory_limit))
        table, entries = getattr(backend, "tt", None), getattr(backend, "tt_entries", None)
        if isinstance(table, dict) and entries:
            return min(1000, int(1000 * len(table) / entries))
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None
    return None
