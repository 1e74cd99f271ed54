"""Self-play in lockstep: many games in one process, one evaluator call for the leaves of all of them.

How the batch spans games: each game runs its own ``mcts.MCTS`` (its own tree, noise, reuse) in its
own thread, and every search shares one :class:`LockstepEvaluator`. A search's ``run`` selects its
batch of leaves in Cython and calls ``evaluate``; the lockstep evaluator parks that call until every
game thread has parked one too (or finished its games), then runs the underlying evaluator (an
``OnnxEvaluator``) ONCE on the concatenation and hands each search its rows. So one onnxruntime call
serves ``parallel_games x batch_size`` leaves. Threads rather than a step-wise select/expand API on
``MCTS``: the search's driver keeps its limits, deadline, Gumbel schedule and statistics in C locals
across batches, and a step-wise API would duplicate that driver; with threads ``mcts/_puct.pyx`` is
unchanged, and the Python work per batch (one wait and one slice per game) is small next to the
network call.

Records (observation, visit distribution, outcome from the mover's view) go to a
:class:`models.train.ReplayBuffer` with the game's symmetries added.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

import games
from models.train import Records, ReplayBuffer, augment


class Lockstep:
    """Coordinates the game threads of one ``play_games`` call.

    Every game thread is a participant for its whole life (``with lockstep.participant():``). A
    participant is either running (selecting leaves in Cython, applying moves) or parked in the
    ``evaluate`` of one of the coordinator's :class:`LockstepEvaluator` s. When no participant is
    running, every evaluator with parked requests evaluates them in ONE call of its inner evaluator
    and wakes its threads. Waiting for all participants (not only those inside a search) is what
    keeps the games in step; counting parked threads of every evaluator together is what lets the
    two networks of a match share the coordinator without a deadlock.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.participants = 0
        self.parked = 0
        self.evaluators: list["LockstepEvaluator"] = []

    def participant(self) -> "_Participant":
        """Context manager around a game thread's loop."""
        return _Participant(self)

    def expect(self, count: int) -> None:
        """Counts ``count`` threads as participants before they start (each then calls ``leave``
        when done), so the first batches already wait for all of them."""
        with self.cond:
            self.participants += count

    def leave(self) -> None:
        """A participant counted by ``expect`` is done."""
        with self.cond:
            self.participants -= 1
            self._maybe_flush_locked()

    def evaluator(self, inner: Any) -> "LockstepEvaluator":
        """A lockstep wrapper of ``inner`` bound to this coordinator."""
        return LockstepEvaluator(inner, self)

    def _maybe_flush_locked(self) -> None:
        if self.parked and self.parked >= self.participants:
            for ev in self.evaluators:
                if ev._pending:
                    ev._flush_locked()
            self.cond.notify_all()


class _Participant:
    def __init__(self, owner: Lockstep) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        with self.owner.cond:
            self.owner.participants += 1

    def __exit__(self, *exc: Any) -> None:
        with self.owner.cond:
            self.owner.participants -= 1
            self.owner._maybe_flush_locked()


class LockstepEvaluator:
    """An evaluator whose ``evaluate`` parks until all game threads are parked, then evaluates the
    leaves of all of them in one call of ``inner``.

    Args:
        inner: the batched evaluator (``evaluate(states) -> (priors [B, A], values [B])``).
        lockstep: the coordinator (a private one when None: then a thread that is not a
            participant evaluates at once).

    Attributes:
        calls: calls of ``inner``; ``states``: states sent to it; ``requests``: ``evaluate`` calls.
    """

    def __init__(self, inner: Any, lockstep: Optional[Lockstep] = None) -> None:
        self.inner = inner
        self.lockstep = lockstep or Lockstep()
        self.lockstep.evaluators.append(self)
        self._pending: list[list[Any]] = []   # [states, result or None, error or None]
        self.calls = 0
        self.states = 0
        self.requests = 0

    def _flush_locked(self) -> None:
        batch, self._pending = self._pending, []
        # the flushed threads stop counting as parked now, not when they wake: a thread that wakes
        # first and parks again must not see the others as still parked
        self.lockstep.parked -= len(batch)
        states = [s for req in batch for s in req[0]]
        try:
            priors, values = self.inner.evaluate(states)
            priors = np.asarray(priors, dtype=np.float32)
            values = np.asarray(values, dtype=np.float32)
            start = 0
            for req in batch:
                n = len(req[0])
                req[1] = (priors[start:start + n], values[start:start + n])
                start += n
        except BaseException as exc:  # every parked search gets the fault, none hangs
            for req in batch:
                req[2] = exc
        self.calls += 1
        self.states += len(states)

    def evaluate(self, states: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Evaluates ``states`` together with the other games' parked leaves.

        Returns:
            priors float32 ``[B, num_actions]``, values float32 ``[B]``.
        """
        req: list[Any] = [list(states), None, None]
        ls = self.lockstep
        with ls.cond:
            self.requests += 1
            self._pending.append(req)
            ls.parked += 1
            ls._maybe_flush_locked()
            while req[1] is None and req[2] is None:
                ls.cond.wait()
        if req[2] is not None:
            raise req[2]
        return req[1]


@dataclass(frozen=True)
class SelfPlayConfig:
    """Settings of self-play games.

    Attributes:
        simulations: MCTS simulations per move.
        parallel_games: games played at once in lockstep (threads sharing one evaluator call).
        batch_size: leaves per search per evaluator call (virtual loss).
        dirichlet_alpha: root noise concentration (None: ``10 / mean legal moves``, e.g. 0.3 for
            Connect Four... set per game by ``default_alpha``).
        dirichlet_fraction: weight of the noise in the root priors.
        temperature_moves: plies played by sampling from visits^(1/temperature); later plies take
            the most visited move.
        temperature: the sampling temperature of those plies.
        c_puct: exploration constant.
        seed: seeds noise and move sampling.
        value_mix: weight of the search's root value in a record's value target; the rest is the
            game's outcome (0, AlphaZero's target: the outcome alone). Averaging the two lowers
            the target's noise when there are few games.
    """

    simulations: int = 100
    parallel_games: int = 16
    batch_size: int = 8
    dirichlet_alpha: Optional[float] = None
    dirichlet_fraction: float = 0.25
    temperature_moves: int = 10
    temperature: float = 1.0
    c_puct: float = 1.25
    seed: int = 0
    value_mix: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.value_mix <= 1.0:
            raise ValueError(f"value_mix must be in [0, 1], got {self.value_mix}")


def default_alpha(game: Any) -> float:
    """AlphaZero's rule of thumb: alpha ~ 10 / typical number of legal moves."""
    return float(min(1.0, 10.0 / max(1, game.num_actions)))


def _visit_policy(result: Any, num_actions: int) -> np.ndarray:
    policy = np.zeros(num_actions, dtype=np.float32)
    actions = np.asarray(result.actions, dtype=np.int64)
    visits = np.asarray(result.visits, dtype=np.float64)
    if actions.size and visits.sum() > 0:
        policy[actions] = visits / visits.sum()
    elif result.best_action >= 0:
        policy[result.best_action] = 1.0
    return policy


def _choose(result: Any, ply: int, config: SelfPlayConfig, rng: np.random.Generator) -> int:
    actions = np.asarray(result.actions, dtype=np.int64)
    visits = np.asarray(result.visits, dtype=np.float64)
    if ply < config.temperature_moves and actions.size and visits.sum() > 0 and not result.is_proven:
        weights = visits ** (1.0 / max(config.temperature, 1e-3))
        return int(actions[rng.choice(actions.size, p=weights / weights.sum())])
    return int(result.best_action)


def play_games(game: Any, evaluators: Sequence[Any], num_games: int, config: SelfPlayConfig, *,
               record: bool = True, on_game: Optional[Callable[[dict[str, Any]], None]] = None,
               noise: bool = True, stats: Optional[dict[str, int]] = None) -> list[dict[str, Any]]:
    """Plays ``num_games`` games, ``config.parallel_games`` at a time in lockstep.

    Args:
        game: the game.
        evaluators: one evaluator per seat (``[ev]`` for self-play, ``[ev_a, ev_b]`` for a match:
            seat ``i`` of game ``k`` uses ``evaluators[(i + k) % len(evaluators)]``, so colours
            alternate between games). Each is wrapped in its own :class:`LockstepEvaluator`.
        num_games: games to play.
        config: search and sampling settings.
        record: keep training records (observation, visit policy, legal mask, mover).
        on_game: called with each finished game's dict (from the game's thread, under a lock).
        noise: Dirichlet noise at the root.
        stats: filled with ``requests`` (searches' evaluate calls), ``calls`` (inner evaluator
            calls) and ``states`` (states evaluated) summed over the lockstep evaluators.

    Returns:
        One dict per game, in the order they finish: ``game`` (its number, from 0), ``returns`` (per player), ``evaluator_of_player`` (index into
        ``evaluators`` per player), ``moves``, and with ``record``: ``records`` (a
        :class:`models.train.Records`, values from the mover's view).
    """
    import mcts

    if num_games < 0:
        raise ValueError(f"num_games must be >= 0, got {num_games}")
    # the C evaluators run inside the search's nogil loop and need no batching across games
    coordinator = Lockstep()
    lockstep = [ev if type(ev) in (mcts.RolloutEvaluator, mcts.UniformEvaluator) else coordinator.evaluator(ev)
                for ev in evaluators]
    alpha = config.dirichlet_alpha if config.dirichlet_alpha is not None else default_alpha(game)
    out: list[dict[str, Any]] = []
    lock = threading.Lock()
    next_game = [0]
    errors: list[BaseException] = []
    limit = mcts.Limit(simulations=config.simulations)

    def claim() -> int:
        with lock:
            k = next_game[0]
            if k >= num_games or errors:
                return -1
            next_game[0] += 1
            return k

    def worker(slot: int) -> None:
        try:
            play(slot)
        finally:
            coordinator.leave()

    def play(slot: int) -> None:
        searches: dict[int, Any] = {}
        try:
            while True:
                k = claim()
                if k < 0:
                    return
                rng = np.random.default_rng([config.seed, k])
                seat_ev = [(p + k) % len(lockstep) for p in range(game.num_players)]
                shared = len(lockstep) == 1
                # self-play: one tree for both sides (reused move to move); a match: one tree per
                # seat, so the two sides never share statistics
                for p in range(1 if shared else game.num_players):
                    searches[p] = mcts.MCTS(game, lockstep[seat_ev[p]], batch_size=config.batch_size,
                                            c_puct=config.c_puct, seed=int(rng.integers(2**31)),
                                            dirichlet_alpha=alpha if noise else None,
                                            dirichlet_fraction=config.dirichlet_fraction)
                state = game.new_initial_state()
                obs, pol, leg, movers, roots = [], [], [], [], []
                ply = 0
                while not state.is_terminal():
                    mover = int(state.current_player())
                    search = searches[0 if shared else mover]
                    result = search.run(state, limit)
                    if record:
                        obs.append(state.observation())
                        pol.append(_visit_policy(result, game.num_actions))
                        legal = np.zeros(game.num_actions, dtype=bool)
                        legal[state.legal_actions()] = True
                        leg.append(legal)
                        movers.append(mover)
                        roots.append(float(result.value))
                    state.apply_action(_choose(result, ply, config, rng))
                    ply += 1
                returns = [float(r) for r in state.returns()]
                info: dict[str, Any] = {"game": k, "returns": returns, "evaluator_of_player": seat_ev, "moves": ply,
                                        "history": list(state.history())}
                if record:
                    mix = config.value_mix
                    targets = [(1.0 - mix) * returns[m] + mix * q for m, q in zip(movers, roots)]
                    info["records"] = Records.from_lists(obs, pol, targets, leg, generation=0)
                with lock:
                    out.append(info)
                    if on_game is not None:
                        on_game(info)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(max(1, min(config.parallel_games, num_games)))]
    coordinator.expect(len(threads))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if stats is not None:
        wrapped = [ev for ev in lockstep if isinstance(ev, LockstepEvaluator)]
        stats.update(requests=sum(ev.requests for ev in wrapped), calls=sum(ev.calls for ev in wrapped),
                     states=sum(ev.states for ev in wrapped))
    if errors:
        raise errors[0]
    return out


def selfplay_worker(game_name: str, game_params: dict[str, Any], model_path: Optional[str], buffer_dir: str,
                    num_games: int, config: SelfPlayConfig, *, generation: int, worker: int,
                    shard_games: int = 8, progress: Optional[Callable[[int], None]] = None) -> int:
    """Plays ``num_games`` self-play games and writes their records (augmented) to the buffer.

    A shard is written every ``shard_games`` finished games (name ``sp-g<generation>-w<worker>-n<games>-
    <serial>.npz``), so a killed worker loses only the games not yet in a shard. With ``model_path``
    None the games use MCTS with random rollouts (the bootstrap of generation 0).

    Returns:
        The number of games written.
    """
    import mcts

    game = games.load(game_name, **game_params)
    if model_path is None:
        evaluator: Any = mcts.RolloutEvaluator(seed=config.seed)
    else:
        import models

        evaluator = models.OnnxEvaluator(model_path, game=game, batch_size=max(256, config.parallel_games * config.batch_size),
                                         cache_size=50_000)
    buffer = ReplayBuffer(buffer_dir)
    pending: list[Records] = []
    written = [0]
    lock = threading.Lock()

    def flush() -> None:
        if not pending:
            return
        rec = Records.concatenate(pending)
        rec.generation[:] = generation
        buffer.add(augment(rec, game_name), prefix=f"sp-g{generation:04d}-w{worker}-n{len(pending)}")
        written[0] += len(pending)
        if progress is not None:
            progress(len(pending))
        pending.clear()

    def on_game(info: dict[str, Any]) -> None:
        pending.append(info.pop("records"))
        if len(pending) >= shard_games:
            flush()

    if model_path is None:
        # C rollouts need no batching: play the games one after another (each search is all C)
        config = SelfPlayConfig(**{**config.__dict__, "parallel_games": 1})
    play_games(game, [evaluator], num_games, config, on_game=on_game)
    with lock:
        flush()
    return written[0]


def match(game: Any, evaluator_a: Any, evaluator_b: Any, num_games: int, config: SelfPlayConfig) -> dict[str, Any]:
    """A match between two evaluators under MCTS (colours alternate; no noise; the first
    ``config.temperature_moves`` plies sampled so games differ).

    Returns:
        ``{"games", "wins", "draws", "losses", "score", "seats"}`` from ``evaluator_a``'s view; score
        is (wins + draws / 2) / games; ``seats[k]`` is the player ``evaluator_a`` was in game ``k``.
    """
    results = play_games(game, [evaluator_a, evaluator_b], num_games, config, record=False, noise=False)
    wins = draws = losses = 0
    seats = [-1] * len(results)
    for r in results:
        a_player = r["evaluator_of_player"].index(0)
        seats[r["game"]] = a_player
        ret = r["returns"][a_player]
        wins += ret > 0
        draws += ret == 0
        losses += ret < 0
    n = max(1, len(results))
    return {"games": len(results), "wins": wins, "draws": draws, "losses": losses,
            "score": (wins + 0.5 * draws) / n, "seats": seats}


def elo_from_score(score: float) -> float:
    """Elo difference of a match score (clipped to +-800 for 0 and 1)."""
    score = min(max(score, 1e-3), 1 - 1e-3)
    return float(-400.0 * math.log10(1.0 / score - 1.0))


def _now() -> float:
    return time.perf_counter()
