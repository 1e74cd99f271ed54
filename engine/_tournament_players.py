"""Tournament players: a ``PlayerSpec`` describes one (command line or TOML), ``build_player`` makes it.

A spec is plain data (picklable), so worker processes and Ray actors build their own players from it.
Kinds:

* ``random``: uniformly random moves (``seed``).
* ``mcts``: ``mcts.MCTS`` over an ONNX network (``model=path.onnx``) or random rollouts
  (``evaluator=rollout``, the default without a model) or uniform priors (``evaluator=uniform``).
* ``alphabeta``: ``mcts.AlphaBeta``.
* ``uci``: an external UCI engine (``cmd=...``, ``option.NAME=value``), chess only, driven through
  ``chess.engine.SimpleEngine.popen_uci``.
* ``python``: ``factory=module:function`` called as ``function(game, name=..., seed=..., **options)``.
* ``llm``: a language model (``engine.LLMPlayer``): ``mode=greedy|mcts|minimax``, in process
  (``backend=transformers``, ``model=`` a directory or GGUF file, default the embedded SmolLM2) or a
  server (``url=http://host:port/v1``, ``model=`` its name); budget keys ``llm_calls``, ``tokens``,
  ``money`` (with ``price=prompt:completion`` per 1,000 tokens); see ``engine/_llm_player.py``.

Keys every kind takes, turned into its per-move ``Limit``: ``simulations``, ``nodes``, ``depth``,
``movetime`` (seconds per move), ``tc`` (a clock, ``"base+increment"`` in seconds, e.g. ``"10+0.1"``),
and ``move_timeout`` (seconds after which a move counts as a hang; default: see ``move_deadline``).
Other keys go to the search's constructor as keyword arguments.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import math
import os
import shlex
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from engine._hex_proof_player import SOLVER_KEYS, SolverOptionError, hex_mcts_player
from engine._llm_player import LLM_LIMIT_KEYS, LLM_SPEC_KEYS, MODES, llm_player_from_options, parse_price
from engine._players import Decision, RandomPlayer, SearchPlayer, WrappedPlayer
from games import IllegalActionError
from mcts import Limit, SearchResult

KINDS = ("random", "mcts", "alphabeta", "uci", "python", "llm")
LIMIT_KEYS = ("simulations", "nodes", "depth", "movetime")
COMMON_KEYS = ("name", "kind", "tc", "move_timeout", "seed") + LIMIT_KEYS
HANG_MARGIN = 5.0  # seconds beyond what a move may take before a player counts as hung
DEFAULT_MOVE_TIMEOUT = 60.0  # for limits that do not bound time (nodes, depth, simulations)


class PlayerSpecError(ValueError):
    """A player description that cannot be used (unknown kind, bad value)."""


class PlayerHangError(RuntimeError):
    """A player gave no move within its deadline."""


@dataclass(frozen=True)
class TimeControl:
    """A clock: ``base`` seconds for the game plus ``increment`` seconds per move."""

    base: float
    increment: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "TimeControl":
        """``"60"``, ``"10+0.1"`` (seconds) into a ``TimeControl``."""
        base, _, inc = str(text).partition("+")
        try:
            tc = cls(float(base), float(inc or 0.0))
        except ValueError:
            raise PlayerSpecError(f"bad time control {text!r}: expected base+increment in seconds, e.g. 10+0.1") from None
        if tc.base <= 0 or tc.increment < 0:
            raise PlayerSpecError(f"bad time control {text!r}: base must be > 0 and increment >= 0")
        return tc

    def __str__(self) -> str:
        return f"{self.base:g}+{self.increment:g}"


@dataclass(frozen=True)
class PlayerSpec:
    """One player of a tournament.

    Attributes:
        name: unique label in tables and records.
        kind: one of ``KINDS``.
        options: the other keys (search options, ``cmd``, ``model``, ...), values parsed.
        uci_options: ``option.NAME=value`` pairs for UCI engines.
    """

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    uci_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PlayerSpecError(f"player {self.name!r}: unknown kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.kind == "uci" and not self.options.get("cmd"):
            raise PlayerSpecError(f"player {self.name!r}: kind=uci needs cmd=<engine command>")
        if self.kind == "python" and ":" not in str(self.options.get("factory", "")):
            raise PlayerSpecError(f"player {self.name!r}: kind=python needs factory=module:function")
        if "tc" in self.options:
            TimeControl.parse(self.options["tc"])
        if self.kind == "llm":
            self._check_llm()
        for key in LIMIT_KEYS + (LLM_LIMIT_KEYS if self.kind == "llm" else ()):
            v = self.options.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise PlayerSpecError(f"player {self.name!r}: {key} must be a non-negative number, got {v!r}")

    def _check_llm(self) -> None:
        unknown = sorted(set(self.options) - set(COMMON_KEYS) - set(LLM_SPEC_KEYS))
        if unknown:
            raise PlayerSpecError(f"player {self.name!r}: kind=llm takes no {', '.join(unknown)}; "
                                  f"its keys: {', '.join(LLM_SPEC_KEYS)}")
        if str(self.options.get("mode", "greedy")) not in MODES:
            raise PlayerSpecError(f"player {self.name!r}: mode must be one of {', '.join(MODES)}")
        try:
            parse_price(self.options.get("price"))
        except ValueError as exc:
            raise PlayerSpecError(f"player {self.name!r}: {exc}") from None

    @property
    def time_control(self) -> Optional[TimeControl]:
        tc = self.options.get("tc")
        return TimeControl.parse(tc) if tc is not None else None

    @property
    def limit(self) -> Limit:
        """The per-move limit (clocks are added by the game loop)."""
        o = self.options
        kw: dict[str, Any] = {}
        for key in ("simulations", "nodes", "depth"):
            if o.get(key) is not None:
                kw[key] = int(o[key])
        if o.get("movetime") is not None:
            kw["time"] = float(o["movetime"])
        if self.kind == "llm":
            kw.update({k: (float if k == "money" else int)(o[k]) for k in LLM_LIMIT_KEYS if o.get(k) is not None})
        if not kw and self.time_control is None:
            kw = {"simulations": 1} if self.kind == "random" else self._default_limit()
        return Limit(**kw)

    def _default_limit(self) -> dict[str, Any]:
        if self.kind == "llm":
            return {"simulations": 32} if self.options.get("mode") == "mcts" else {}
        return {"depth": 4} if self.kind == "alphabeta" else ({"nodes": 10000} if self.kind == "uci" else {"simulations": 200})

    def search_options(self) -> dict[str, Any]:
        """The options meant for the search's constructor."""
        skip = set(COMMON_KEYS) | {"cmd", "model", "evaluator", "factory", "rollouts"} | set(SOLVER_KEYS)
        return {k: v for k, v in self.options.items() if k not in skip}

    def describe(self) -> str:
        """The spec back as ``key=value,...`` (what ``parse_player`` reads)."""
        parts = [f"name={self.name}", f"kind={self.kind}"]
        parts += [f"{k}={_fmt(v)}" for k, v in self.options.items()]
        parts += [f"option.{k}={_fmt(v)}" for k, v in self.uci_options.items()]
        return ",".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "options": dict(self.options),
                "uci_options": dict(self.uci_options)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PlayerSpec":
        return cls(d["name"], d["kind"], dict(d.get("options", {})), dict(d.get("uci_options", {})))


def _fmt(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def parse_value(text: str) -> Any:
    """``"true"`` -> True, ``"400"`` -> 400, ``"0.5"`` -> 0.5, anything else stays a string."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


def parse_player(text: str) -> PlayerSpec:
    """A spec from ``"name=mcts,kind=mcts,simulations=400"``; values cannot contain commas here.

    A bare kind (``"random"``) is a player of that kind named after it.

    Raises:
        PlayerSpecError: no kind, or a malformed item.
    """
    items: dict[str, Any] = {}
    if "=" not in text:
        return spec_from_mapping({"kind": text.strip()})
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise PlayerSpecError(f"bad player item {part!r} in {text!r}: expected key=value")
        items[key.strip()] = parse_value(value)
    return spec_from_mapping(items)


def spec_from_mapping(d: Mapping[str, Any]) -> PlayerSpec:
    """A spec from a TOML table or parsed command-line items (``option.X`` keys or an ``option`` table)."""
    d = dict(d)
    kind = str(d.pop("kind", "")).lower()
    if not kind:
        raise PlayerSpecError(f"player {d!r} has no kind; known kinds: {', '.join(KINDS)}")
    name = str(d.pop("name", kind))
    uci = dict(d.pop("option", {}) or {})
    options: dict[str, Any] = {}
    for key, value in d.items():
        if key.startswith("option."):
            uci[key[len("option."):]] = value
        else:
            options[key] = value
    return PlayerSpec(name, kind, options, uci)


def move_deadline(spec: PlayerSpec, limit: Limit, seat: int) -> float:
    """Seconds after which ``spec``'s move counts as a hang (the clock or move time, plus a margin)."""
    if spec.options.get("move_timeout") is not None:
        return float(spec.options["move_timeout"])
    clock = limit.wtime if seat == 0 else limit.btime
    if clock is not None:
        return clock + HANG_MARGIN
    if limit.time is not None:
        return 2.0 * limit.time + HANG_MARGIN
    return DEFAULT_MOVE_TIMEOUT


# ---------------------------------------------------------------------------------------------
# building players


def build_player(spec: PlayerSpec, game, *, seed: int = 0):
    """A ready player for ``game`` (its ``close()`` frees engines and threads).

    Raises:
        PlayerSpecError: the spec does not fit the game or names a missing model or module.
    """
    if spec.kind == "uci":
        return UciPlayer(spec, game)
    return GuardedPlayer(spec, build_local_player(spec, game, seed))


def build_local_player(spec: PlayerSpec, game, seed: int):
    """The player itself, without the tournament's hang guard (``plytree play`` uses it)."""
    o = spec.options
    seed = int(o.get("seed", seed))
    if spec.kind == "random":
        return RandomPlayer(seed, name=spec.name)
    if spec.kind == "llm":
        try:
            return llm_player_from_options(o, name=spec.name, seed=seed)
        except ValueError as exc:
            raise PlayerSpecError(f"player {spec.name!r}: {exc}") from None
    if spec.kind == "python":
        module, _, attr = str(o["factory"]).partition(":")
        factory = getattr(importlib.import_module(module), attr)
        return factory(game, name=spec.name, seed=seed, **spec.search_options())
    import mcts

    if spec.kind == "alphabeta":
        return SearchPlayer(mcts.AlphaBeta(game, **spec.search_options()), spec.name, spec.limit)
    try:
        return hex_mcts_player(spec.options, game, _evaluator(spec, game, seed), name=spec.name, limit=spec.limit,
                               seed=seed, search_options=spec.search_options())
    except SolverOptionError as exc:
        raise PlayerSpecError(f"player {spec.name!r}: {exc}") from None


def _evaluator(spec: PlayerSpec, game, seed: int):
    import mcts

    model = spec.options.get("model")
    if model is not None:
        if not os.path.exists(str(model)):
            raise PlayerSpecError(f"player {spec.name!r}: model file {model!r} not found")
        import models

        return models.OnnxEvaluator(str(model), game=game)
    kind = str(spec.options.get("evaluator", "rollout")).lower()
    if kind == "uniform":
        return mcts.UniformEvaluator()
    if kind != "rollout":
        raise PlayerSpecError(f"player {spec.name!r}: evaluator must be rollout or uniform, got {kind!r}")
    kw = {"num_rollouts": int(spec.options["rollouts"])} if "rollouts" in spec.options else {}
    return mcts.RolloutEvaluator(seed=seed, **kw)


class GuardedPlayer(WrappedPlayer):
    """An in-process player whose every move runs on a daemon thread with a deadline.

    A move that overruns ``move_deadline`` is stopped (``search.stop()``) and raises
    ``PlayerHangError``; the game loop then forfeits the game and the tournament rebuilds the
    player. A thread stuck in C code cannot be killed, only abandoned; being a daemon, it does not
    keep the process alive at exit.
    """

    def __init__(self, spec: PlayerSpec, player) -> None:
        self.spec = spec
        self.player = player
        self.name = spec.name
        self.is_broken = False

    def choose(self, state, limit: Limit) -> Decision:
        deadline = move_deadline(self.spec, limit, state.current_player())
        box: list = []
        done = threading.Event()

        def work() -> None:
            try:
                box.append((True, self.player.choose(state, limit)))
            except BaseException as exc:  # handed to the caller's thread below
                box.append((False, exc))
            finally:
                done.set()

        threading.Thread(target=work, name=f"player-{self.name}", daemon=True).start()
        if not done.wait(deadline):
            self.is_broken = True
            stop = getattr(getattr(self.player, "search", None), "stop", None)
            if stop is not None:
                stop()
            raise PlayerHangError(f"no move within {deadline:.1f} s")
        ok, value = box[0]
        if not ok:
            raise value
        return value


def value_from_uci_score(score) -> Optional[float]:
    """A python-chess ``PovScore`` (mover's view) as a value in [-1, 1]: ``tanh(cp / 400)``, mates ±1."""
    if score is None:
        return None
    rel = score.relative
    mate = rel.mate()
    if mate is not None:
        return 1.0 if mate > 0 else -1.0
    cp = rel.score()
    return None if cp is None else math.tanh(cp / 400.0)


class UciPlayer:
    """An external UCI engine through ``chess.engine.SimpleEngine`` (chess and chess960 only).

    The engine starts on first use; after a crash or hang it is killed and ``is_broken`` is set, and
    the tournament starts a fresh one for the next game.
    """

    def __init__(self, spec: PlayerSpec, game) -> None:
        if not game.name.startswith("chess"):
            raise PlayerSpecError(f"player {spec.name!r}: UCI engines play chess only, not {game.name}")
        self.spec = spec
        self.name = spec.name
        self.is_broken = False
        self._engine = None
        self._game_id: object = object()

    def _start(self):
        import chess.engine

        cmd = self.spec.options["cmd"]
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        try:
            engine = chess.engine.SimpleEngine.popen_uci(argv, timeout=30.0)
        except (OSError, chess.engine.EngineError, asyncio.TimeoutError) as exc:
            raise RuntimeError(f"cannot start UCI engine {cmd!r}: {exc}") from exc
        if self.spec.uci_options:
            try:
                engine.configure(self.spec.uci_options)
            except (chess.engine.EngineError, asyncio.TimeoutError) as exc:
                engine.close()
                raise RuntimeError(f"UCI engine {cmd!r} rejects its options: {exc}") from exc
        self._engine = engine
        return engine

    def check(self) -> None:
        """Starts and configures the engine once (raises ``RuntimeError`` if it cannot), then stops it."""
        self._start()
        self.close()

    def choose(self, state, limit: Limit) -> Decision:
        import chess.engine

        engine = self._engine or self._start()
        board = state.board.copy()
        deadline = move_deadline(self.spec, limit, state.current_player())
        coro = asyncio.wait_for(
            engine.protocol.play(board, _chess_limit(limit), game=self._game_id, info=chess.engine.INFO_SCORE),
            deadline,
        )
        future = asyncio.run_coroutine_threadsafe(coro, engine.protocol.loop)
        try:
            played = future.result()
        except (asyncio.TimeoutError, concurrent.futures.TimeoutError):
            self._kill()
            raise PlayerHangError(f"no bestmove within {deadline:.1f} s") from None
        except chess.engine.EngineTerminatedError as exc:
            self._kill()
            raise RuntimeError(f"engine terminated: {exc}") from exc
        except chess.engine.EngineError as exc:
            self._kill()  # an engine that talks nonsense is not trusted with the next game either
            if "illegal" in str(exc).lower() or "invalid" in str(exc).lower():
                raise IllegalActionError(f"engine sent {exc}") from exc
            raise RuntimeError(f"engine error: {exc}") from exc
        if played.move is None:
            self._kill()
            raise IllegalActionError("engine sent no move (bestmove (none))")
        action = state.string_to_action(played.move.uci())
        value = value_from_uci_score(played.info.get("score"))
        cp = played.info["score"].relative.score(mate_score=100000) if "score" in played.info else None
        result = SearchResult(best_action=action, value=0.0 if value is None else value, score=cp,
                              depth=int(played.info.get("depth", 0)), nodes=int(played.info.get("nodes", 0)))
        return Decision(action, result if value is not None else None)

    def new_game(self) -> None:
        self._game_id = object()  # python-chess sends ucinewgame when the game object changes

    def _kill(self) -> None:
        self.is_broken = True
        engine, self._engine = self._engine, None
        if engine is None:
            return
        try:
            pid = engine.protocol.transport.get_pid()
            os.kill(pid, signal.SIGKILL)
        except (OSError, AttributeError, TypeError):
            pass
        try:
            engine.close()
        except Exception:  # the engine is dead already; nothing more to free
            pass

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is None:
            return
        try:
            engine.quit()
        except Exception:
            self._engine = engine
            self._kill()


def _chess_limit(limit: Limit):
    import chess.engine

    return chess.engine.Limit(
        time=limit.time, depth=limit.depth, nodes=limit.nodes,
        white_clock=limit.wtime, black_clock=limit.btime, white_inc=limit.winc, black_inc=limit.binc,
        remaining_moves=limit.movestogo,
    )
