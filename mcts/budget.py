"""The search-budget controller: one ``Limit`` -> soft and hard deadlines, and early stops.

``BudgetController`` turns a ``Limit`` (UCI ``go``: clocks, increments, moves to go, a fixed move
time, depth, nodes, mate, infinite) into two deadlines measured from the start of the move:

* ``soft`` -- the time the controller aims to spend; it moves with the search: shorter when the best
  move has been stable for several iterations, longer (up to ``hard``) when the best move keeps
  changing or the score is falling;
* ``hard`` -- never exceeded: the search is stopped there whatever it is doing.

The controller drives any search from outside, through the two hooks every search has: the interim
results it reports (``on_info``) and its thread-safe ``stop()``. It stops a search early when the
best move can no longer change:

* MCTS (results with ``visits``): the runner-up cannot catch up with the best action in the
  simulations that remain at the current rate (lc0's "smart pruning");
* alpha-beta (results without visits, one per completed depth): the best move has been the same for
  a few iterations and the next iteration could not finish before the aim.

``run_with_budget`` runs one search under a controller; UCI, the Python API players and tournaments
all use it.

Losing on time is the worst result of all, so two safeguards sit on top of the plan:

* ``LatencyTracker`` learns the real Move Overhead of a session: how late the search's result came
  back after the hard deadline (a loaded machine) and, from the clocks the GUI sends, how much more
  time each move cost than the engine measured (pipes, the GUI, process scheduling). The controller
  plans with the larger of the configured and the learnt overhead.
* Emergency mode: with the clock below a few increments (or a few overheads), a move takes a small
  fixed share: a fraction of the increment plus a sliver of what is left, and never more than the
  increment less the overhead (so that the clock stops sinking).
* Panic: with the clock below ``PANIC_CLOCK`` (50 ms) or one overhead, a move gets the least
  thinking time (``MIN_SECONDS``: the first iteration), and the UCI engine skips its info lines.

Stopping: every search honours a ``stop()`` that comes before its ``run`` and clears the request
when ``run`` returns. The controller therefore calls ``stop()`` once, and only while ``run`` is
running (a stop after ``run`` returned would end the next run at once).
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from mcts._limit import Limit, SearchResult, StopReason

InfoCallback = Callable[[SearchResult], None]

__all__ = ["BudgetController", "Deadlines", "InfoRelay", "LatencyTracker", "compute_deadlines", "move_time",
           "run_with_budget"]

# seconds per move lost outside the search when nothing better is known (UCI ``Move Overhead``)
DEFAULT_OVERHEAD = 0.03

# moves left to plan for when the clock has no movestogo (sudden death, or an increment)
EXPECTED_MOVES = 30
# the least thinking time any move gets, seconds (a search needs a few ms to return a legal move)
MIN_SECONDS = 0.005
# hard deadline as a multiple of the soft one, and as a share of the remaining clock
HARD_FACTOR = 4.0
HARD_SHARE = 0.3
HARD_SHARE_LAST_MOVE = 0.8
# how far the aim may move from the soft deadline
MIN_SCALE = 0.4
MAX_SCALE = 3.0
# emergency mode: below this many increments, or this many overheads, of clock
EMERGENCY_INCREMENTS = 3.0
EMERGENCY_OVERHEADS = 8.0
# in emergency a move takes this share of the increment plus this share of the usable clock
EMERGENCY_INCREMENT_SHARE = 0.5
EMERGENCY_CLOCK_SHARE = 0.02
# panic: with less than this (or less than one overhead) on the clock, answer at once: the least
# thinking time, i.e. the search's first iteration or its table's move
PANIC_CLOCK = 0.05
# a quick move: a hard deadline this short needs no watchdog thread (see BudgetController.run)
QUICK_SECONDS = 0.1
# a quick move hands the search this multiple of the soft deadline (at most the hard one): where the
# watchdog would stop an iteration that runs past the aim
QUICK_AIM_FACTOR = 1.5


@dataclass(frozen=True)
class Deadlines:
    """Seconds after the start of a move; None where no clock limits the search.

    Attributes:
        soft: the planned time for the move (the aim before the search has reported anything).
        hard: the time the search must not pass.
        is_clock: the deadlines come from a game clock (early stops and extensions apply), not from
            a fixed move time.
        panic: the clock is almost gone (``is_panic``): answer at once, skip anything optional.
    """

    soft: Optional[float]
    hard: Optional[float]
    is_clock: bool = False
    panic: bool = False


def compute_deadlines(limit: Limit, player: int = 0, *, overhead: float = DEFAULT_OVERHEAD,
                      expected_moves: int = EXPECTED_MOVES) -> Deadlines:
    """Soft and hard deadlines for one move.

    Args:
        limit: the move's limit; clock fields in seconds (``wtime``/``winc`` belong to player 0).
        player: the player to move (0 or 1).
        overhead: seconds lost per move outside the search (pipes, the GUI, the operating system);
            taken off every deadline.
        expected_moves: moves left to plan for when ``movestogo`` is not given.

    Returns:
        The deadlines; both None for an infinite search or one limited only by depth, nodes, mate or
        simulations.

    Raises:
        ValueError: a negative overhead or a player other than 0 or 1 with a clock.
    """
    if overhead < 0 or not math.isfinite(overhead):
        raise ValueError(f"overhead must be a non-negative number of seconds, got {overhead!r}")
    if limit.infinite:
        return Deadlines(None, None)
    soft: Optional[float] = None
    hard: Optional[float] = None
    is_clock = False
    panic = False
    if limit.has_clock:
        if player not in (0, 1):
            raise ValueError(f"player must be 0 or 1 for a clock limit, got {player!r}")
        remaining = limit.wtime if player == 0 else limit.btime
        if remaining is None:  # only the opponent's clock was given: assume the same for us
            remaining = limit.btime if player == 0 else limit.wtime
        increment = (limit.winc if player == 0 else limit.binc) or 0.0
        if remaining is not None:
            is_clock = True
            moves = max(1, min(int(limit.movestogo), 50)) if limit.movestogo else expected_moves
            # keep a reserve so that an unlucky overhead never flags: a share of what is left
            usable = max(0.0, remaining - min(0.05 * remaining, 1.0) - overhead)
            if is_panic(remaining, overhead):
                panic = True
                soft = hard = MIN_SECONDS
            elif is_emergency(remaining, increment, overhead):
                # move fast: a fraction of the increment, and a sliver of what is left; never more
                # than the increment leaves after the overhead, so that the clock does not sink
                # further (each move then costs less than it gives back)
                share = EMERGENCY_INCREMENT_SHARE * increment + EMERGENCY_CLOCK_SHARE * usable
                hard = max(MIN_SECONDS, min(share, 0.25 * usable, increment - overhead if increment > 0 else share))
                soft = hard
            elif moves == 1:
                soft_raw = 0.6 * usable + increment * 0.5
                hard_raw = HARD_SHARE_LAST_MOVE * usable
            else:
                soft_raw = usable / moves + 0.75 * increment
                hard_raw = min(HARD_FACTOR * soft_raw, HARD_SHARE * usable + increment * 0.5)
            if soft is None:
                hard_raw = min(hard_raw, usable)
                soft = max(MIN_SECONDS, min(soft_raw, hard_raw) - overhead)
                hard = max(MIN_SECONDS, hard_raw - overhead)
                soft = min(soft, hard)
    if limit.time is not None:
        fixed = max(MIN_SECONDS, limit.time - overhead)
        hard = fixed if hard is None else min(hard, fixed)
        soft = fixed if soft is None else min(soft, hard)
    return Deadlines(soft, hard, is_clock, panic)


def quick_seconds(deadlines: Deadlines) -> Optional[float]:
    """The time a quick move searches, or None when the move is not quick.

    A move is quick when the time its search would take without a watchdog is at most
    ``QUICK_SECONDS``: ``QUICK_AIM_FACTOR`` times the soft deadline for a clock (where the watchdog
    would stop an iteration that runs past the aim), at most the hard deadline; the fixed time for
    a move time.
    """
    if deadlines.hard is None:
        return None
    seconds = deadlines.hard
    if deadlines.is_clock and deadlines.soft is not None:
        seconds = min(seconds, max(MIN_SECONDS, QUICK_AIM_FACTOR * deadlines.soft))
    return seconds if seconds <= QUICK_SECONDS else None


def is_panic(remaining: float, overhead: float) -> bool:
    """Whether a clock of ``remaining`` seconds leaves no time to think: below ``PANIC_CLOCK`` or
    below one move's overhead."""
    return remaining < max(PANIC_CLOCK, overhead)


def is_emergency(remaining: float, increment: float, overhead: float) -> bool:
    """Whether a clock of ``remaining`` seconds is in emergency: below a few increments, or below a
    few overheads (with no or a tiny increment)."""
    return remaining < max(EMERGENCY_INCREMENTS * increment, EMERGENCY_OVERHEADS * overhead)


class LatencyTracker:
    """Learns a session's real Move Overhead from two measurements (thread-safe).

    * lateness: how long after the hard deadline the search's result came back (a search that
      checks its clock every few ms, a loaded machine, a slow evaluator call);
    * round trip: from the clocks of consecutive moves of one player, the time the GUI charged for a
      move minus the time the engine measured for it (pipes, GUI, scheduling).

    Each estimate is a slowly decaying maximum of its samples (a spike raises it at once, then it
    fades by ``decay`` per sample), and the overhead to plan with is the configured one or, when
    larger, ``margin`` times the sum of the two estimates, at most ``ceiling`` seconds.

    Use one tracker per engine session (one game at a time): ``BudgetController`` feeds it (the
    clock at the start of each move, the time spent and the lateness at the end) when given one.
    """

    def __init__(self, *, decay: float = 0.95, margin: float = 1.25, ceiling: float = 1.0) -> None:
        if not 0.0 <= decay < 1.0 or margin < 1.0 or ceiling < 0:
            raise ValueError(f"need 0 <= decay < 1, margin >= 1, ceiling >= 0; got {decay}, {margin}, {ceiling}")
        self.decay = decay
        self.margin = margin
        self.ceiling = ceiling
        self._lock = threading.Lock()
        self.lateness = 0.0      # estimate of the search's lateness past the hard deadline, seconds
        self.round_trip = 0.0    # estimate of the time charged beyond what the engine measured, seconds
        self._last: dict[int, tuple[float, float]] = {}  # player -> (clock at the move's start, seconds measured)
        self._pending: dict[int, float] = {}             # player -> clock at the start of the current move

    def reset(self) -> None:
        """A new game: forget the clock pairing (the estimates stay: the machine is the same)."""
        with self._lock:
            self._last.clear()
            self._pending.clear()

    def overhead(self, configured: float) -> float:
        """Seconds of overhead to plan with: the configured value or the learnt one, the larger."""
        with self._lock:
            learnt = self.margin * (self.lateness + self.round_trip)
        return max(configured, min(self.ceiling, learnt))

    def _raise(self, name: str, sample: float) -> None:
        current = getattr(self, name) * self.decay
        setattr(self, name, max(current, min(self.ceiling, sample)))

    def observe_lateness(self, seconds: float) -> None:
        """The search returned ``seconds`` after its hard deadline (<= 0: on time)."""
        with self._lock:
            self._raise("lateness", max(0.0, seconds))

    def observe_clock(self, player: int, remaining: float, increment: float = 0.0) -> None:
        """A move of ``player`` starts with ``remaining`` seconds on the clock (increment per move).

        Paired with the previous move of the same player: the GUI charged it
        ``previous - remaining + increment`` seconds; what exceeds the measured time is round trip.
        A clock that went up by more than the increment starts a new pairing (a new game).
        """
        with self._lock:
            last = self._last.pop(player, None)
            self._pending[player] = remaining
            if last is None:
                return
            before, measured = last
            charged = before - remaining + increment
            if charged < 0 or charged > before:  # a new game or a changed time control
                return
            self._raise("round_trip", max(0.0, charged - measured))

    def observe_spent(self, player: int, seconds: float) -> None:
        """The move that ``observe_clock`` opened took ``seconds`` as the engine measured it."""
        with self._lock:
            before = self._pending.pop(player, None)
            if before is not None:
                self._last[player] = (before, seconds)


def move_time(limit: Limit, player: int = 0, *, overhead: float = DEFAULT_OVERHEAD) -> Optional[float]:
    """Seconds a search run on its own (without a ``BudgetController``) may spend on ``limit``.

    This is the one place a clock becomes a move time for the searches: ``Limit.time`` when set,
    else the soft deadline of the clock (``compute_deadlines``), the smaller of the two when both
    are given. A search alone cannot extend or stop early, so it takes the planned time.

    Args:
        limit: the move's limit (clocks in seconds).
        player: the player to move (selects ``wtime``/``btime``); anything but 1 reads as 0.
        overhead: seconds per move lost outside the search, taken off the clock's time.

    Returns:
        Seconds, or None when neither a move time nor a clock bounds the search (or it is infinite
        and gives no move time).
    """
    seconds = limit.time
    if limit.has_clock and not limit.infinite:
        clock = compute_deadlines(limit.replace(time=None), 1 if player == 1 else 0, overhead=overhead).soft
        if clock is not None:
            seconds = clock if seconds is None else min(seconds, clock)
    return seconds


class InfoRelay:
    """An ``on_info`` callback whose receivers can be changed after the search is built.

    Pass one to a search's constructor (``MCTS(game, ev, on_info=relay)``) so that a controller can
    listen to a search it did not build; ``run_with_budget`` connects to it for one run.
    """

    def __init__(self, receiver: Optional[InfoCallback] = None) -> None:
        self._lock = threading.Lock()
        self._receivers: list[InfoCallback] = [receiver] if receiver is not None else []

    def connect(self, receiver: InfoCallback) -> None:
        with self._lock:
            self._receivers.append(receiver)

    def disconnect(self, receiver: InfoCallback) -> None:
        with self._lock:
            if receiver in self._receivers:
                self._receivers.remove(receiver)

    def __call__(self, result: SearchResult) -> None:
        with self._lock:
            receivers = list(self._receivers)
        for receiver in receivers:
            receiver(result)


class BudgetController:
    """Decides when one search stops, from its limit and what it reports.

    Use: ``start()`` when the move begins (or ``start(pondering=True)`` and ``ponderhit()`` later),
    feed every interim result to ``observe`` (it returns True when the search should stop now), and
    ask ``seconds_left`` / ``should_stop`` between results; or let ``run`` do all of that.

    Args:
        limit: the move's limit.
        player: the player to move (selects wtime/btime).
        overhead: seconds per move lost outside the search (UCI ``Move Overhead``).
        clock: a monotonic clock in seconds (tests pass a fake one).
        latency: the session's ``LatencyTracker``: the controller plans with its overhead when
            larger, and feeds it this move's clock, time spent and lateness.

    Attributes:
        limit, player, deadlines: as computed at construction.
        overhead: the overhead planned with (the configured one, or the learnt one when larger).
        stop_reason: why the controller asked for a stop (a ``StopReason``; empty while it has not).
    """

    def __init__(self, limit: Limit, player: int = 0, *, overhead: float = DEFAULT_OVERHEAD,
                 clock: Callable[[], float] = time.monotonic, latency: Optional[LatencyTracker] = None) -> None:
        self.limit = limit
        self.player = player
        self.latency = latency
        if latency is not None:
            if limit.has_clock and player in (0, 1):
                remaining = limit.wtime if player == 0 else limit.btime
                if remaining is not None:
                    latency.observe_clock(player, remaining, (limit.winc if player == 0 else limit.binc) or 0.0)
            overhead = latency.overhead(overhead)
        self.overhead = overhead
        self.deadlines = compute_deadlines(limit, player, overhead=overhead)
        self._clock = clock
        self._lock = threading.Lock()
        self._start: Optional[float] = None
        self._pondering = False
        self.stop_reason = StopReason.NONE
        # what the search said so far
        self._scale = 1.0
        self._instability = 0.0
        self._last_best: Optional[int] = None
        self._last_depth = 0
        self._stable_iterations = 0
        self._best_score: Optional[float] = None  # the best value seen at a reliable depth/time
        self._last_value: Optional[float] = None
        self._last_info_time = 0.0
        self._stop_requested = threading.Event()
        self._wake: Optional[threading.Event] = None
        self._accounted = False
        self._direct = False  # a quick move inside run: stops go to the search directly, no watchdog
        self._gate: Optional[_StopGate] = None

    # ----------------------------------------------------------------- time
    def start(self, *, pondering: bool = False, at: Optional[float] = None) -> None:
        """Starts the move's clock (now, or at the clock time ``at``, e.g. when ``go`` was read).

        With ``pondering`` the deadlines wait for ``ponderhit``: the search runs until stopped.
        """
        with self._lock:
            self._start = self._clock() if at is None else at
            self._pondering = pondering

    def ponderhit(self) -> None:
        """The opponent played the expected move: the deadlines count from now."""
        with self._lock:
            self._start = self._clock()
            self._pondering = False

    @property
    def is_quick(self) -> bool:
        """A move of at most ``QUICK_SECONDS`` (``quick_seconds``), not a ponder or infinite
        search: ``run`` needs no watchdog thread for it."""
        return not self._pondering and not self.limit.infinite and quick_seconds(self.deadlines) is not None

    @property
    def is_pondering(self) -> bool:
        return self._pondering

    def elapsed(self) -> float:
        """Seconds since ``start`` (or since ``ponderhit``)."""
        start = self._start
        return 0.0 if start is None else self._clock() - start

    def aim(self) -> Optional[float]:
        """The current aim in seconds after the start: the soft deadline scaled by what the
        search reported, never past the hard deadline; None without a clock or move time."""
        d = self.deadlines
        if d.soft is None:
            return None
        if not d.is_clock:
            return d.soft
        return min(d.hard if d.hard is not None else math.inf, d.soft * self._scale)

    def seconds_left(self) -> Optional[float]:
        """Seconds until the controller would stop the search by time (None: never, by time)."""
        if self._pondering or self._start is None:
            return None
        aim = self.aim()
        if aim is None:
            return None
        elapsed = self.elapsed()
        stop_at = aim
        if self._is_iterative and self.deadlines.is_clock:
            # alpha-beta stops between iterations at a share of the aim (observe); in the middle of
            # an iteration it may run on past the aim, up to the hard deadline
            stop_at = min(self.deadlines.hard or aim, 1.5 * aim)
        return stop_at - elapsed

    def should_stop(self) -> bool:
        """True when the time is up (the controller's own reasons, not the search's limits)."""
        left = self.seconds_left()
        if left is not None and left <= 0:
            if not self.stop_reason:
                self.stop_reason = StopReason.TIME
            return True
        return False

    # --------------------------------------------------------------- search
    _is_iterative = False  # set once a result without visits arrives (alpha-beta)

    def observe(self, result: SearchResult) -> bool:
        """Takes an interim result into account; returns True when the search should stop now."""
        with self._lock:
            if result.visits and len(result.visits) == len(result.actions):
                return self._observe_mcts(result)
            self._is_iterative = True
            return self._observe_iterative(result)

    def _observe_iterative(self, result: SearchResult) -> bool:
        if result.depth <= self._last_depth and self._last_best is not None:
            return self.should_stop()  # a repeated report of the same depth changes nothing
        changed = self._last_best is not None and result.best_action != self._last_best
        self._instability = 0.5 * self._instability + (1.0 if changed else 0.0)
        self._stable_iterations = 0 if changed or self._last_best is None else self._stable_iterations + 1
        self._last_best = result.best_action
        self._last_depth = result.depth
        value = _score_value(result)
        drop = 0.0
        if value is not None:
            if self._best_score is not None and result.depth >= 4:
                drop = max(0.0, self._best_score - value)
            if result.depth >= 4:
                self._best_score = value if self._best_score is None else max(value, 0.5 * (self._best_score + value))
        scale = (1.0 + 0.8 * self._instability) * (1.0 + min(1.0, drop / 0.2))
        if drop < 0.05:  # a stable best move with a steady score needs less time
            if self._stable_iterations >= 4:
                scale *= 0.6
            elif self._stable_iterations >= 2:
                scale *= 0.85
        self._scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        if result.is_proven:
            self.stop_reason = StopReason.PROVEN
            return not self._pondering
        if len(result.actions) == 1 and self.deadlines.is_clock and not self._pondering:
            self.stop_reason = StopReason.ONLY_MOVE
            return True
        if self._pondering or self._start is None or not self.deadlines.is_clock:
            return self.should_stop()
        aim = self.aim()
        # the next iteration costs a few times this one: past ~half the aim it would not finish
        if aim is not None and self.elapsed() >= 0.55 * aim:
            self.stop_reason = StopReason.STABLE if self._stable_iterations >= 2 else StopReason.TIME
            return True
        return self.should_stop()

    def _observe_mcts(self, result: SearchResult) -> bool:
        now = self.elapsed()
        order = sorted(range(len(result.visits)), key=result.visits.__getitem__, reverse=True)
        best = result.actions[order[0]]
        first = result.visits[order[0]]
        second = result.visits[order[1]] if len(order) > 1 else 0
        changed = self._last_best is not None and best != self._last_best
        # instability decays with time (results come every ~0.1 s), jumps when the best changes
        decay = 0.5 ** max(0.0, (now - self._last_info_time) / 0.2)
        self._instability = self._instability * decay + (1.0 if changed else 0.0)
        self._last_info_time = now
        self._last_best = best
        drop = 0.0
        if self._best_score is not None:
            drop = max(0.0, self._best_score - result.value)
        if result.simulations >= 100:
            self._best_score = result.value if self._best_score is None else max(self._best_score, result.value)
        self._scale = max(MIN_SCALE, min(MAX_SCALE, (1.0 + 0.5 * self._instability) * (1.0 + min(1.0, drop / 0.15))))
        if result.is_proven:
            self.stop_reason = StopReason.PROVEN
            return not self._pondering
        if len(order) == 1 and not self._pondering and self.deadlines.is_clock:
            self.stop_reason = StopReason.ONLY_MOVE
            return True
        if self._pondering or self.limit.infinite:
            return False
        # smart pruning: can the runner-up still overtake in what is left?
        remaining = math.inf
        done = result.simulations or sum(result.visits)
        aim = self.aim()
        if aim is not None and self._start is not None and now > 0.02:
            rate = done / now
            remaining = rate * max(0.0, aim - now)
        if self.limit.simulations is not None:
            remaining = min(remaining, max(0, self.limit.simulations - result.simulations))
        if self.limit.nodes is not None and result.nodes:
            remaining = min(remaining, max(0, self.limit.nodes - result.nodes))
        if remaining != math.inf and first - second > remaining:
            self.stop_reason = StopReason.PRUNED
            return True
        return self.should_stop()

    def search_limit(self) -> Limit:
        """The limit to hand the search itself: its own limits (depth, nodes, simulations, mate,
        language-model budget) plus the hard deadline as a backstop, without the clocks (the
        controller owns them). Pondering or infinite: no time at all, the search runs until stopped."""
        keep = self.limit.replace(wtime=None, btime=None, winc=None, binc=None, movestogo=None, time=None)
        if self._pondering or self.limit.infinite:
            return keep.replace(infinite=True)
        if self.deadlines.hard is not None:
            quick = quick_seconds(self.deadlines) if self._direct else None
            # a quick move: no watchdog stops an iteration at the aim, the search's own time does
            return keep.replace(time=self.deadlines.hard if quick is None else quick)
        if keep.is_unbounded or (keep.simulations is None and keep.nodes is None and keep.time is None):
            # only depth or mate: a search that does not count depth (MCTS) runs until stopped
            return keep.replace(infinite=True)
        return keep

    # ------------------------------------------------------------------ run
    def request_stop(self, reason: str = StopReason.STOPPED) -> None:
        """Asks the running search to stop (from any thread); ``run`` passes it on safely.

        Raises:
            ValueError: ``reason`` is not a ``StopReason`` value.
        """
        if not self.stop_reason:
            self.stop_reason = StopReason.of(reason)
        self._stop_requested.set()
        gate = self._gate
        if gate is not None:  # a quick move: no watchdog passes the stop on, so pass it on here
            gate.poll()
        wake = self._wake
        if wake is not None:
            wake.set()

    @property
    def is_stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def run(self, search, state, *, on_info: Optional[InfoCallback] = None, pondering: bool = False,
            started_at: Optional[float] = None, relay: Optional[InfoRelay] = None,
            account: bool = True) -> SearchResult:
        """Runs ``search`` on ``state`` under this controller and returns its result.

        A watchdog thread stops the search (``search.stop()``) when the time is up, right after an
        interim result that makes more search pointless, and on ``request_stop``. A quick move
        (``is_quick``: a hard deadline of at most ``QUICK_SECONDS``) runs without one: the search
        gets a time of its own (``QUICK_AIM_FACTOR`` times the soft deadline, at most the hard one),
        and stops are passed to it directly (on a loaded machine, starting a thread costs a wait
        for the CPU each time). ``stop()`` is called once, and only while ``search.run`` is running
        (see the module's note on stopping). ``on_info`` receives every interim result (after the
        controller has seen it).

        Args:
            search: any search with ``run(state, limit)`` and ``stop()``; its interim results reach
                the controller when its ``on_info`` is an ``InfoRelay`` or a settable attribute
                ``on_info`` (else the controller decides by time alone).
            state: the root position (not modified).
            on_info: receives the interim results.
            pondering: start in ponder mode (deadlines wait for ``ponderhit``).
            started_at: clock time the move began (default: now).
            relay: the ``InfoRelay`` the search was built with, when the caller knows it.
            account: feed the latency tracker when the search returns; False when the caller
                calls ``account`` itself once the move is really out (e.g. UCI, after ``bestmove``
                is written), so that the learnt overhead covers the whole move, not only the search.
        """
        self.start(pondering=pondering, at=started_at)
        gate = _StopGate(search)
        receive = self._receiver(on_info)
        if self.is_quick:
            return self._run_direct(search, state, gate, receive, relay, account)
        done = threading.Event()
        wake = self._wake = threading.Event()

        def watchdog() -> None:
            while not done.is_set():
                if self._stop_requested.is_set():
                    gate.poll()
                    done.wait(0.002)
                    continue
                left = self.seconds_left()
                if left is not None and left <= 0:
                    self.request_stop(StopReason.TIME)
                    continue
                wake.wait(0.05 if left is None else min(0.05, max(0.0005, left)))
                wake.clear()

        with _listening(search, receive, relay):
            thread = threading.Thread(target=watchdog, name="plytree-budget", daemon=True)
            thread.start()
            try:
                result = gate.run(state, self.search_limit())
            finally:
                done.set()
                wake.set()
                thread.join()
                self._wake = None
        if account:
            self.account()
        return result

    def _receiver(self, on_info: Optional[InfoCallback]) -> InfoCallback:
        """What listens to the search during ``run``: the controller, then ``on_info``."""

        def receive(result: SearchResult) -> None:
            if self.observe(result) or self._depth_reached(result):
                self.request_stop(self.stop_reason or StopReason.LIMIT)
            if on_info is not None:
                on_info(result)

        return receive

    def _run_direct(self, search, state, gate: _StopGate, receive: InfoCallback,
                    relay: Optional[InfoRelay], account: bool) -> SearchResult:
        """``run`` for a quick move: no watchdog thread (see ``run``)."""
        self._direct = True
        self._gate = gate
        try:
            with _listening(search, receive, relay):
                result = gate.run(state, self.search_limit())
        finally:
            self._gate = None
            self._direct = False
        if account:
            self.account()
        return result

    def account(self) -> None:
        """Feeds the latency tracker, once per move: the time this move took until now and how
        late that is past the hard deadline. ``run`` calls it unless told not to."""
        if self.latency is None or self._pondering or self._start is None or self._accounted:
            return
        self._accounted = True
        spent = self.elapsed()
        self.latency.observe_spent(self.player, spent)
        if self.deadlines.hard is not None:
            self.latency.observe_lateness(spent - self.deadlines.hard)

    def _depth_reached(self, result: SearchResult) -> bool:
        """A depth limit for a search that does not count depth itself (MCTS: the PV's depth)."""
        return bool(result.visits) and self.limit.depth is not None and result.depth >= self.limit.depth

    def ponderhit_and_wake(self) -> None:
        """``ponderhit`` for a controller inside ``run``: also wakes its watchdog."""
        self.ponderhit()
        wake = self._wake
        if wake is not None:
            wake.set()


class _StopGate:
    """Calls a search's ``stop()`` once, and only while its ``run`` is running: a stop before
    ``run`` would be honoured too, but one after ``run`` returned would end the next run."""

    def __init__(self, search) -> None:
        self.search = search
        self._lock = threading.Lock()
        self._running = False
        self._stopped = False

    def run(self, state, limit: Limit) -> SearchResult:
        with self._lock:
            self._running = True
        try:
            return self.search.run(state, limit)
        finally:
            with self._lock:
                self._running = False

    def poll(self) -> None:
        with self._lock:
            if self._running and not self._stopped:
                self._stopped = True
                self.search.stop()


@contextlib.contextmanager
def _listening(search, receiver: InfoCallback, relay: Optional[InfoRelay] = None) -> Iterator[None]:
    """Connects ``receiver`` to ``search``'s interim results for the duration of a run."""
    current = relay if relay is not None else getattr(search, "on_info", None)
    if isinstance(current, InfoRelay):
        current.connect(receiver)
        try:
            yield
        finally:
            current.disconnect(receiver)
        return
    if hasattr(search, "on_info"):
        def chained(result: SearchResult) -> None:
            receiver(result)
            if current is not None:
                current(result)

        try:
            search.on_info = chained
        except AttributeError:  # a read-only attribute: time alone decides
            yield
            return
        try:
            yield
        finally:
            search.on_info = current
        return
    yield


def _score_value(result: SearchResult) -> Optional[float]:
    """The result's value on the [-1, 1] scale (centipawn scores through a logistic)."""
    if result.score is not None:
        if abs(result.score) >= 20000:  # a mate score
            return 1.0 if result.score > 0 else -1.0
        return math.tanh(result.score / 400.0)
    return result.value


def run_with_budget(search, state, limit: Limit, *, overhead: float = DEFAULT_OVERHEAD,
                    on_info: Optional[InfoCallback] = None, player: Optional[int] = None,
                    latency: Optional[LatencyTracker] = None) -> SearchResult:
    """Runs ``search`` on ``state`` under a ``BudgetController`` for ``limit``.

    Args:
        search: a search (``run``, ``stop`` and, for early stops, an ``on_info`` the controller can
            listen to; see ``BudgetController.run``).
        state: the root position.
        limit: the move's limit (clocks in seconds).
        overhead: seconds per move lost outside the search.
        on_info: receives the interim results.
        player: the player to move (default: ``state.current_player()``).
        latency: the session's ``LatencyTracker`` (adaptive overhead), if any.

    Returns:
        The search's result.
    """
    if player is None:
        player = state.current_player()
    controller = BudgetController(limit, player if player in (0, 1) else 0, overhead=overhead, latency=latency)
    return controller.run(search, state, on_info=on_info)
