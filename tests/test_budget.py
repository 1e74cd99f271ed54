"""The search-budget controller: deadlines from limits, early stops and extensions from synthetic
info sequences (fake clock), and real searches run under it."""
from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcts import Limit, SearchResult
from mcts.budget import MIN_SECONDS, BudgetController, InfoRelay, compute_deadlines, run_with_budget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ab_result(best: int, depth: int, score: int = 20, actions=(1, 2, 3)) -> SearchResult:
    return SearchResult(best, actions=actions, pv=(best,), score=score, depth=depth, nodes=1000 * depth)


def mcts_result(visits: tuple[int, ...], value: float = 0.0, actions=None) -> SearchResult:
    actions = actions or tuple(range(len(visits)))
    best = actions[max(range(len(visits)), key=visits.__getitem__)]
    return SearchResult(best, value=value, actions=actions, visits=visits, simulations=sum(visits),
                        nodes=sum(visits))


# --------------------------------------------------------------------------- deadlines
def test_movetime_is_both_deadlines_minus_overhead():
    d = compute_deadlines(Limit(time=1.0), 0, overhead=0.05)
    assert d.soft == pytest.approx(0.95) and d.hard == pytest.approx(0.95) and not d.is_clock


def test_clock_uses_own_side_and_increment():
    limit = Limit(wtime=60.0, btime=6.0, winc=1.0, binc=0.0)
    white = compute_deadlines(limit, 0, overhead=0.0)
    black = compute_deadlines(limit, 1, overhead=0.0)
    assert white.is_clock and black.is_clock
    assert white.soft > 10 * black.soft  # ten times the clock plus an increment
    assert white.soft > 60.0 / 30  # the increment is spent too
    for d, remaining in ((white, 60.0), (black, 6.0)):
        assert MIN_SECONDS <= d.soft <= d.hard < remaining
        assert d.hard <= 0.31 * remaining + 0.5  # never more than a share of what is left


def test_movestogo_one_spends_most_but_not_all():
    d = compute_deadlines(Limit(wtime=10.0, movestogo=1), 0, overhead=0.1)
    assert 5.0 < d.soft <= d.hard < 9.9


def test_movetime_caps_clock():
    d = compute_deadlines(Limit(wtime=600.0, time=0.5), 0, overhead=0.0)
    assert d.hard == pytest.approx(0.5) and d.soft <= 0.5


@pytest.mark.parametrize("limit", [Limit(infinite=True), Limit(depth=5), Limit(nodes=1000), Limit(mate=2),
                                   Limit(simulations=50), Limit(wtime=1.0, infinite=True)])
def test_no_deadline_without_time(limit):
    d = compute_deadlines(limit, 0)
    assert d.soft is None and d.hard is None


def test_bad_overhead_and_player():
    with pytest.raises(ValueError, match="overhead"):
        compute_deadlines(Limit(time=1.0), 0, overhead=-1)
    with pytest.raises(ValueError, match="player"):
        compute_deadlines(Limit(wtime=1.0), 2)


@settings(max_examples=300, deadline=None)
@given(remaining=st.floats(0.0, 7200.0), inc=st.floats(0.0, 30.0), mtg=st.one_of(st.none(), st.integers(1, 80)),
       overhead=st.floats(0.0, 1.0))
def test_hard_never_exceeds_clock(remaining, inc, mtg, overhead):
    d = compute_deadlines(Limit(wtime=remaining, winc=inc, movestogo=mtg), 0, overhead=overhead)
    assert MIN_SECONDS <= d.soft <= d.hard
    # the hard deadline plus the overhead fits the clock (or is the minimum when nothing fits)
    assert d.hard + overhead <= max(remaining, 0.0) or d.hard == MIN_SECONDS


def test_search_limit_strips_clocks_and_keeps_search_limits():
    c = BudgetController(Limit(wtime=10.0, btime=10.0, winc=0.1, depth=7, nodes=5000), 0, overhead=0.0)
    lim = c.search_limit()
    assert lim.wtime is None and lim.btime is None and lim.winc is None
    assert lim.depth == 7 and lim.nodes == 5000 and lim.time == pytest.approx(c.deadlines.hard)
    c.start(pondering=True)
    assert c.search_limit().infinite and c.search_limit().time is None


# --------------------------------------------------------------- alpha-beta sequences
def _feed(controller: BudgetController, clock: FakeClock, results, step: float):
    """Feeds one result per ``step`` seconds; returns (index, elapsed) of the first stop or None."""
    for i, r in enumerate(results):
        clock.now += step
        if controller.observe(r) or controller.should_stop():
            return i, controller.elapsed()
    return None


def test_stable_best_move_stops_early():
    clock = FakeClock()
    c = BudgetController(Limit(wtime=30.0, winc=0.0), 0, overhead=0.0, clock=clock)
    c.start()
    soft = c.deadlines.soft  # ~0.95 s
    stop = _feed(c, clock, [ab_result(1, d) for d in range(1, 40)], step=soft / 20)
    assert stop is not None
    assert c.stop_reason == "stable"
    assert stop[1] < soft  # stopped before the planned time: the best move never changed


def test_unstable_best_move_spends_more():
    clock = FakeClock()
    c = BudgetController(Limit(wtime=30.0), 0, overhead=0.0, clock=clock)
    c.start()
    soft = c.deadlines.soft
    stop = _feed(c, clock, [ab_result(1 + d % 3, d) for d in range(1, 200)], step=soft / 20)
    assert stop is not None
    assert c.aim() > 1.5 * soft
    assert soft < stop[1] <= c.deadlines.hard + 1e-9


def test_score_drop_spends_more():
    clock = FakeClock()
    c = BudgetController(Limit(wtime=30.0), 0, overhead=0.0, clock=clock)
    c.start()
    soft = c.deadlines.soft
    _feed(c, clock, [ab_result(1, d, score=50) for d in range(1, 5)], step=0.001)
    steady = c.aim()
    c.observe(ab_result(1, 5, score=-150))
    assert c.aim() > 1.5 * steady and c.aim() > soft


def test_fixed_movetime_is_not_cut_short():
    clock = FakeClock()
    c = BudgetController(Limit(time=1.0), 0, overhead=0.0, clock=clock)
    c.start()
    stop = _feed(c, clock, [ab_result(1, d) for d in range(1, 100)], step=0.05)
    assert stop is not None and stop[1] >= 1.0 - 1e-9 and c.stop_reason == "time"


def test_only_move_stops_at_once_under_a_clock():
    c = BudgetController(Limit(wtime=30.0), 0, overhead=0.0, clock=FakeClock())
    c.start()
    assert c.observe(ab_result(5, 1, actions=(5,))) and c.stop_reason == "only move"
    fixed = BudgetController(Limit(time=1.0), 0, overhead=0.0, clock=FakeClock())
    fixed.start()
    assert not fixed.observe(ab_result(5, 1, actions=(5,)))  # a fixed move time is spent as asked


def test_missing_own_clock_uses_the_other():
    assert compute_deadlines(Limit(btime=10.0), 0, overhead=0.0) == compute_deadlines(Limit(wtime=10.0), 0, overhead=0.0)


def test_proven_result_stops():
    c = BudgetController(Limit(wtime=30.0), 0, overhead=0.0, clock=FakeClock())
    c.start()
    assert c.observe(SearchResult(2, actions=(1, 2), pv=(2,), score=29999, depth=3, is_proven=True, proven_value=1))
    assert c.stop_reason == "proven"


# --------------------------------------------------------------------- MCTS sequences
def test_smart_pruning_when_runner_up_cannot_catch_up():
    clock = FakeClock()
    c = BudgetController(Limit(time=1.0), 0, overhead=0.0, clock=clock)
    c.start()
    clock.now += 0.8
    # 1600 simulations in 0.8 s -> ~400 more before the deadline; the lead is 1440
    assert c.observe(mcts_result((1500, 60, 40)))
    assert c.stop_reason == "pruned"


def test_no_pruning_while_runner_up_can_catch_up():
    clock = FakeClock()
    c = BudgetController(Limit(time=1.0), 0, overhead=0.0, clock=clock)
    c.start()
    clock.now += 0.5
    assert not c.observe(mcts_result((600, 500, 50)))
    assert not c.should_stop()


def test_pruning_by_simulation_limit():
    c = BudgetController(Limit(simulations=1000), 0, overhead=0.0, clock=FakeClock())
    c.start()
    assert not c.observe(mcts_result((300, 250, 50)))
    assert c.observe(mcts_result((700, 100, 50)))  # 150 left, lead 600


def test_mcts_instability_and_value_drop_extend():
    clock = FakeClock()
    c = BudgetController(Limit(wtime=30.0), 0, overhead=0.0, clock=clock)
    c.start()
    soft = c.deadlines.soft
    for i in range(6):
        clock.now += 0.05
        visits = (300 + 100 * i, 310 + 100 * i) if i % 2 else (310 + 100 * i, 300 + 100 * i)
        c.observe(mcts_result(visits, value=0.3 - 0.1 * i))
    assert c.aim() > 1.5 * soft


# --------------------------------------------------------------------------- ponder
def test_ponder_waits_for_ponderhit():
    clock = FakeClock()
    c = BudgetController(Limit(wtime=3.0, btime=3.0), 0, overhead=0.0, clock=clock)
    c.start(pondering=True)
    clock.now += 100.0
    assert c.seconds_left() is None and not c.should_stop()
    assert not c.observe(ab_result(1, 30))
    c.ponderhit()
    assert c.seconds_left() == pytest.approx(1.5 * c.aim(), rel=0.01) or c.seconds_left() <= c.deadlines.hard
    clock.now += c.deadlines.hard + 0.01
    assert c.should_stop()


# ------------------------------------------------------------------ run, with threads
class Looping:
    """A search that reports a new depth every ``step`` seconds until stopped or out of limit."""

    def __init__(self, step: float, best=lambda d: 1, on_info=None) -> None:
        self.on_info = on_info
        self.step = step
        self.best = best
        self._stop = threading.Event()
        self.limits: list[Limit] = []

    def stop(self) -> None:
        self._stop.set()

    def run(self, state, limit: Limit) -> SearchResult:
        # the searches' convention: a stop before run is honoured, the flag is cleared on return
        self.limits.append(limit)
        try:
            depth, result = 0, SearchResult(1)
            while not self._stop.wait(self.step):
                depth += 1
                result = ab_result(self.best(depth), depth)
                if self.on_info is not None:
                    self.on_info(result)
                if limit.depth is not None and depth >= limit.depth:
                    break
            return result
        finally:
            self._stop.clear()


class _State:
    def current_player(self) -> int:
        return 1


def test_run_respects_hard_deadline_without_info():
    search = Looping(step=10.0)  # never reports: only the watchdog can stop it
    t0 = time.monotonic()
    controller = BudgetController(Limit(time=0.2), 1, overhead=0.05)
    controller.run(search, _State())
    # how soon after the deadline is a benchmark (bench/bench_mcts.py); here: stopped by time, not before
    assert controller.stop_reason == "time" and time.monotonic() - t0 >= 0.14


def test_run_stops_early_on_stable_best_and_forwards_info():
    seen = []
    search = Looping(step=0.01)
    t0 = time.monotonic()
    result = run_with_budget(search, _State(), Limit(btime=30.0, wtime=0.1), overhead=0.0, on_info=seen.append)
    spent = time.monotonic() - t0
    soft = compute_deadlines(Limit(btime=30.0), 1, overhead=0.0).soft
    assert spent < soft  # black's clock, a stable best: well before the planned time
    assert seen and seen[-1].depth == result.depth
    assert search.on_info is None  # the attribute is put back after the run
    assert search.limits[0].wtime is None


def test_run_with_relay_and_unstable_best_uses_more_time():
    relay = InfoRelay()
    search = Looping(step=0.01, best=lambda d: 1 + d % 2, on_info=relay)
    c = BudgetController(Limit(wtime=6.0), 0, overhead=0.0)
    t0 = time.monotonic()
    c.run(search, _State(), relay=relay)
    spent = time.monotonic() - t0
    assert c.deadlines.soft < spent <= c.deadlines.hard + 0.05


def test_depth_limit_is_the_search_own():
    search = Looping(step=0.001)
    result = run_with_budget(search, _State(), Limit(depth=5))
    assert result.depth == 5 and search.limits[0].depth == 5 and search.limits[0].time is None


def test_ponderhit_from_another_thread():
    search = Looping(step=0.005)
    c = BudgetController(Limit(wtime=2.0, btime=2.0), 0, overhead=0.0)
    timer = threading.Timer(0.2, c.ponderhit_and_wake)
    timer.start()
    t0 = time.monotonic()
    c.run(search, _State(), pondering=True)
    spent = time.monotonic() - t0
    timer.join()
    assert 0.2 <= spent <= 0.2 + c.deadlines.hard + 0.05


# ------------------------------------------------------------------------ real searches
def test_real_alphabeta_chess_under_clock():
    import chess

    import games
    from mcts._ab_search import AlphaBeta

    game = games.load("chess")
    state = game.state_from_board(chess.Board("r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3"))
    seen: list[SearchResult] = []
    search = AlphaBeta(game)
    controller = BudgetController(Limit(wtime=3.0, btime=3.0, winc=0.0, binc=0.0), 0, overhead=0.0)
    t0 = time.monotonic()
    result = controller.run(search, state, on_info=seen.append)
    spent = time.monotonic() - t0
    assert result.best_action in state.legal_actions()
    assert seen and seen[-1].depth >= 2  # the controller heard every depth
    assert spent <= controller.deadlines.hard + 0.1
    assert controller.stop_reason in ("stable", "time")
    # the search is usable again (no stop left over): a fixed depth search runs to its depth
    again = search.run(state, Limit(depth=2))
    assert again.depth == 2


def test_real_mcts_smart_pruning_connect4():
    import games
    from mcts import MCTS, RolloutEvaluator

    game = games.load("connect4")
    state = game.new_initial_state()
    for column in (0, 1, 0, 1, 0, 1):  # player 0 wins at once in column 0
        state.apply_action(column)
    search = MCTS(game, RolloutEvaluator(seed=1), solver=False, info_interval=0.02)
    controller = BudgetController(Limit(time=2.0), 0, overhead=0.0)
    t0 = time.monotonic()
    result = controller.run(search, state)
    spent = time.monotonic() - t0
    assert result.best_action == 0
    assert controller.stop_reason == "pruned" and spent < 1.5


def test_real_mcts_infinite_until_requested_stop():
    import games
    from mcts import MCTS, RolloutEvaluator

    game = games.load("connect4")
    search = MCTS(game, RolloutEvaluator(seed=2))
    controller = BudgetController(Limit(infinite=True), 0)
    timer = threading.Timer(0.3, controller.request_stop)
    timer.start()
    t0 = time.monotonic()
    result = controller.run(search, game.new_initial_state())
    timer.join()
    assert time.monotonic() - t0 >= 0.3 and result.stop_reason == "stopped"
    assert result.simulations > 0 and result.best_action in range(7)


# ------------------------------------------------------------ stop convention, one clock
def test_stop_before_run_is_honoured_by_every_search_and_cleared():
    import games
    from mcts import MCTS, AlphaBeta, RolloutEvaluator, StopReason

    game = games.load("connect4")
    for search in (MCTS(game, RolloutEvaluator(seed=0)), AlphaBeta(game), AlphaBeta(games.load("chess"))):
        state = search.game.new_initial_state()
        search.stop()
        first = search.run(state, Limit(infinite=True))  # would never return if the stop were lost
        assert first.stop_reason is StopReason.STOPPED and first.best_action in state.legal_actions()
        second = search.run(state, Limit(depth=2) if isinstance(search, AlphaBeta) else Limit(simulations=50))
        assert second.stop_reason != StopReason.STOPPED  # the flag was cleared when run returned


def test_controller_stop_requested_before_run():
    search = Looping(step=0.01)
    controller = BudgetController(Limit(infinite=True), 0)
    controller.request_stop()
    result = controller.run(search, _State())  # an infinite limit: only the early stop ends it
    assert controller.stop_reason == "stopped" and result.best_action == 1
    assert not search._stop.is_set()  # the search cleared its flag on return: the next run is not stopped


def test_move_time_is_the_one_clock():
    from mcts.budget import move_time

    assert move_time(Limit(time=0.7), 0) == 0.7
    assert move_time(Limit(nodes=10), 0) is None
    assert move_time(Limit(wtime=10.0, btime=10.0, infinite=True), 0) is None
    clock = Limit(wtime=60.0, btime=2.0, winc=1.0, binc=0.1)
    for player in (0, 1):
        soft = compute_deadlines(clock, player).soft
        assert move_time(clock, player) == soft
        assert move_time(clock.replace(time=soft / 2), player) == soft / 2
    assert move_time(clock, 0) > move_time(clock, 1)


# -------------------------------------------------------------- emergency, adaptive overhead
def test_emergency_mode_caps_at_a_fraction_of_the_increment():
    from mcts.budget import EMERGENCY_CLOCK_SHARE, EMERGENCY_INCREMENT_SHARE, is_emergency

    inc, overhead = 0.01, 0.03
    assert is_emergency(0.2, inc, overhead) and not is_emergency(0.5, inc, overhead)
    assert is_emergency(2.5, 1.0, 0.0) and not is_emergency(3.5, 1.0, 0.0)
    d = compute_deadlines(Limit(wtime=0.2, btime=5.0, winc=inc, binc=inc), 0, overhead=overhead)
    # the increment does not cover the overhead: the least thinking time, so the clock can recover
    assert d.hard == MIN_SECONDS and d.soft == d.hard and d.is_clock
    big_inc, small_overhead = 0.1, 0.01
    d2 = compute_deadlines(Limit(wtime=0.25, winc=big_inc), 0, overhead=small_overhead)
    usable = 0.25 - 0.05 * 0.25 - small_overhead
    assert d2.hard == pytest.approx(EMERGENCY_INCREMENT_SHARE * big_inc + EMERGENCY_CLOCK_SHARE * usable)
    # capped at the increment less the overhead
    d3 = compute_deadlines(Limit(wtime=0.25, winc=big_inc), 0, overhead=0.06)
    assert d3.hard == pytest.approx(big_inc - 0.06) and d3.hard < EMERGENCY_INCREMENT_SHARE * big_inc
    # never more than a quarter of what is usable, never less than the minimum
    assert compute_deadlines(Limit(wtime=0.08, winc=1.0), 0, overhead=0.0).hard == pytest.approx(0.25 * 0.076)
    assert compute_deadlines(Limit(wtime=0.001), 0, overhead=0.03).hard == MIN_SECONDS
    # just above the emergency line the normal plan applies, and it is larger
    normal = compute_deadlines(Limit(wtime=0.3, winc=inc), 0, overhead=overhead)
    assert normal.hard > d.hard


@given(remaining=st.floats(0.0, 600.0), inc=st.floats(0.0, 30.0), overhead=st.floats(0.0, 1.0))
@settings(max_examples=300, deadline=None)
def test_deadlines_never_exceed_the_usable_clock(remaining, inc, overhead):
    d = compute_deadlines(Limit(wtime=remaining, winc=inc), 0, overhead=overhead)
    assert MIN_SECONDS <= d.soft <= d.hard
    assert d.hard <= max(MIN_SECONDS, remaining - overhead + 1e-9)


def test_latency_tracker_learns_round_trip_and_lateness():
    from mcts.budget import LatencyTracker

    t = LatencyTracker(decay=0.5, margin=1.25, ceiling=1.0)
    assert t.overhead(0.03) == 0.03
    t.observe_clock(0, 10.0, 0.1)
    t.observe_spent(0, 0.5)
    t.observe_clock(0, 9.5, 0.1)      # charged 10.0 - 9.5 + 0.1 = 0.6 for a 0.5 s move: 0.1 round trip
    assert t.round_trip == pytest.approx(0.1)
    t.observe_lateness(0.04)
    assert t.lateness == pytest.approx(0.04)
    assert t.overhead(0.03) == pytest.approx(1.25 * 0.14)
    assert t.overhead(0.5) == 0.5        # a larger configured overhead wins
    t.observe_spent(0, 0.2)
    t.observe_clock(0, 9.3, 0.1)      # charged 0.3 for 0.2: a 0.1 sample again
    t.observe_lateness(-0.01)         # on time: the estimate decays
    assert t.lateness == pytest.approx(0.02) and t.round_trip == pytest.approx(0.1)
    t.observe_spent(0, 0.2)
    t.observe_clock(0, 60.0, 0.1)     # the clock went up: a new game, no sample
    assert t.round_trip == pytest.approx(0.1)
    t.observe_lateness(5.0)
    assert t.overhead(0.0) == 1.0     # capped at the ceiling
    with pytest.raises(ValueError):
        LatencyTracker(decay=1.5)


def test_controller_plans_with_the_learnt_overhead_and_feeds_the_tracker():
    from mcts.budget import LatencyTracker

    tracker = LatencyTracker(decay=0.9)
    limit = Limit(wtime=30.0, btime=30.0, winc=0.5, binc=0.5)
    plain = BudgetController(limit, 0, overhead=0.03)
    tracker.observe_lateness(0.2)
    c = BudgetController(limit, 0, overhead=0.03, latency=tracker)
    assert c.overhead == pytest.approx(1.25 * 0.2)
    assert c.deadlines.hard < plain.deadlines.hard and c.deadlines.soft < plain.deadlines.soft
    assert c.deadlines == compute_deadlines(limit, 0, overhead=c.overhead)
    # the controller pairs this move's clock with its measured time for the next move
    clock = FakeClock()
    first = BudgetController(limit, 0, latency=tracker, clock=clock)
    first.start()
    clock.now += 1.0
    first.account()
    clock.now += 5.0
    first.account()  # once per move: a second call (e.g. after bestmove) changes nothing
    BudgetController(Limit(wtime=29.2, btime=30.0, winc=0.5, binc=0.5), 0, latency=tracker)
    assert tracker.round_trip == pytest.approx(30.0 - 29.2 + 0.5 - 1.0)


def test_panic_when_the_clock_is_almost_gone():
    from mcts.budget import MIN_SECONDS, PANIC_CLOCK, is_panic

    # below 50 ms: the least thinking time, whatever the increment
    d = compute_deadlines(Limit(wtime=0.04, btime=1.0, winc=0.01, binc=0.01), 0, overhead=0.01)
    assert d.panic and d.is_clock and d.soft == d.hard == MIN_SECONDS
    # below one overhead (a learnt 0.2 s on a loaded machine) also panics
    d = compute_deadlines(Limit(btime=0.15, wtime=5.0), 1, overhead=0.2)
    assert d.panic and d.hard == MIN_SECONDS
    # just above both: emergency, not panic, and never more than a quarter of the usable clock
    d = compute_deadlines(Limit(wtime=0.06, btime=0.06, winc=0.01, binc=0.01), 0, overhead=0.01)
    assert not d.panic and d.hard == MIN_SECONDS  # the increment only covers the overhead
    d = compute_deadlines(Limit(wtime=0.06, btime=0.06, winc=0.03, binc=0.03), 0, overhead=0.001)
    usable = 0.06 - 0.003 - 0.001
    assert not d.panic and d.hard == pytest.approx(min(0.5 * 0.03 + 0.02 * usable, 0.25 * usable))
    assert is_panic(PANIC_CLOCK - 1e-9, 0.0) and not is_panic(PANIC_CLOCK, 0.0)
    assert is_panic(0.3, 0.31) and not is_panic(0.3, 0.29)
    # a fixed move time or an infinite search never panics
    assert not compute_deadlines(Limit(time=0.01)).panic
    assert not compute_deadlines(Limit(infinite=True)).panic


class _Instant:
    """A search that reports one proven result at once and records what it was given."""

    def __init__(self) -> None:
        self.on_info = None
        self.limits: list[Limit] = []
        self.threads_during_run = 0
        self.stopped_in_run = False
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, state, limit: Limit) -> SearchResult:
        self.limits.append(limit)
        self.threads_during_run = threading.active_count()
        result = SearchResult(3, actions=(3, 4), pv=(3,), depth=1, is_proven=True)
        try:
            if self.on_info is not None:
                self.on_info(result)
            self.stopped_in_run = self._stop.is_set()
            return result
        finally:
            self._stop.clear()


def test_quick_move_runs_without_a_watchdog_and_passes_stops_directly():
    from mcts.budget import QUICK_AIM_FACTOR, QUICK_SECONDS, quick_seconds

    limit = Limit(wtime=1.0, btime=1.0, winc=0.01, binc=0.01)
    controller = BudgetController(limit, 0, overhead=0.03)
    d = controller.deadlines
    assert controller.is_quick and d.hard > QUICK_SECONDS  # the soft deadline decides
    assert quick_seconds(d) == pytest.approx(QUICK_AIM_FACTOR * d.soft)
    search = _Instant()
    before = threading.active_count()
    controller.run(search, _State())
    assert search.threads_during_run == before  # no watchdog thread
    assert search.limits[0].time == pytest.approx(min(d.hard, QUICK_AIM_FACTOR * d.soft))
    assert search.stopped_in_run and controller.stop_reason == "proven"
    # a long clock, pondering or an infinite search keeps the watchdog
    assert not BudgetController(Limit(wtime=60.0, btime=60.0), 0).is_quick
    assert not BudgetController(Limit(infinite=True), 0).is_quick
    pondering = BudgetController(limit, 0, overhead=0.03)
    pondering.start(pondering=True)
    assert not pondering.is_quick
    # the hard deadline is not changed by the quick path: only the search's own time is capped
    assert controller.search_limit().time == pytest.approx(d.hard)
    assert quick_seconds(compute_deadlines(Limit(time=0.08))) == pytest.approx(0.08 - 0.03)
    assert quick_seconds(compute_deadlines(Limit(time=0.5))) is None
    assert quick_seconds(compute_deadlines(Limit(depth=3))) is None
