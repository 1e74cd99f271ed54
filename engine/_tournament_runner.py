"""Running a tournament: the configuration, one game per schedule entry, and the loop that farms games
out to this process, local worker processes or Ray actors and records each as it ends.

Crash safety: every finished game is appended to ``games.jsonl`` (flushed and fsynced) before the
next is handed out, and the schedule is a pure function of the configuration (saved as
``tournament.json``), so ``resume`` replays exactly the games whose index has no record yet.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from engine._play import GameRecord, play_game
from engine._pool import WorkerPool, is_worker_loss
from engine._tournament_output import (
    RESULT_TEXT,
    append_record,
    pentanomial,
    plot_ratings,
    ratings_of,
    read_records,
    report_text,
    write_pgn,
)
from engine._tournament_players import PlayerSpec, build_player
from engine._tournament_ratings import Ratings, Sprt, SprtResult
from engine._tournament_schedule import Opening, ScheduledGame, make_schedule

CONFIG_FILE = "tournament.json"
GAMES_FILE = "games.jsonl"
PGN_FILE = "games.pgn"
REPORT_FILE = "report.md"
PLOT_FILE = "ratings.png"


class TournamentError(ValueError):
    """A tournament that cannot start: bad configuration, or an output folder in the way."""


@dataclass(frozen=True)
class Adjudication:
    """When the referee ends a game early. Scores are the players' own values in [-1, 1]
    (UCI centipawns become ``tanh(cp / 400)``).

    Attributes:
        resign_moves: resign when, for this many consecutive moves each, one side's score is at most
            ``-resign_score`` and the other's at least ``resign_score`` (0: off).
        resign_score: see above.
        draw_moves: adjudicate a draw when both scores stayed within ``draw_score`` of 0 for this many
            consecutive moves each, from full move ``draw_movenumber`` on (0: off).
        draw_score, draw_movenumber: see above.
        max_moves: a draw after this many plies (None: the game's maximum length).
    """

    resign_moves: int = 0
    resign_score: float = 0.95
    draw_moves: int = 0
    draw_score: float = 0.05
    draw_movenumber: int = 40
    max_moves: Optional[int] = None

    @classmethod
    def parse(cls, resign: Optional[str], draw: Optional[str], max_moves: Optional[int]) -> "Adjudication":
        """From ``--resign moves=3,score=0.95`` and ``--draw movenumber=40,moves=8,score=0.05``."""
        kw: dict[str, Any] = {"max_moves": max_moves}
        for text, prefix, keys in ((resign, "resign_", ("moves", "score")),
                                   (draw, "draw_", ("moves", "score", "movenumber"))):
            for part in filter(None, (t.strip() for t in (text or "").split(","))):
                key, sep, value = part.partition("=")
                if not sep or key.strip() not in keys:
                    raise TournamentError(f"bad adjudication item {part!r}; expected {', '.join(k + '=' for k in keys)}")
                kw[prefix + key.strip()] = float(value) if key.strip() == "score" else int(value)
        return cls(**kw)

    def referee(self, first_seat: int) -> Optional[Callable]:
        """The ``adjudicate`` hook for ``play_game``, or None when nothing is adjudicated."""
        if not self.resign_moves and not self.draw_moves:
            return None

        def adjudicate(state, record: GameRecord):
            n = len(record.scores)
            if self.resign_moves and n >= 2 * self.resign_moves:
                window = record.scores[-2 * self.resign_moves:]
                if all(s is not None for s in window):
                    last = [float(s) for s in window if s is not None]
                    mover = (first_seat + n - 1) % 2
                    mine, theirs = last[1::2], last[0::2]  # the last mover's scores, the opponent's
                    for seat, low, high in ((mover, mine, theirs), (1 - mover, theirs, mine)):
                        if max(low) <= -self.resign_score and min(high) >= self.resign_score:
                            returns = [1.0, 1.0]
                            returns[seat] = -1.0
                            return returns, f"adjudication: {record.players[seat]} resigns (scores agree for {self.resign_moves} moves)"
            move_number = (n - 1) // 2 + 1  # of the move just played
            if self.draw_moves and n >= 2 * self.draw_moves and move_number >= self.draw_movenumber:
                recent = record.scores[-2 * self.draw_moves:]
                if all(s is not None and abs(s) <= self.draw_score for s in recent):
                    return [0.0, 0.0], f"adjudication: draw by score at move {move_number}"
            return None

        return adjudicate


@dataclass(frozen=True)
class TournamentConfig:
    """Everything that fixes the schedule and the games (saved as ``tournament.json``)."""

    game: str
    players: tuple[PlayerSpec, ...]
    openings: tuple[Opening, ...]
    format: str = "roundrobin"
    rounds: int = 1
    gauntlet_players: int = 1
    seed: int = 0
    game_params: dict = field(default_factory=dict)
    adjudication: Adjudication = Adjudication()
    sprt: Optional[Sprt] = None
    event: str = "plytree tournament"
    time_margin: float = 0.0

    def __post_init__(self) -> None:
        names = [p.name for p in self.players]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise TournamentError(f"player names must be unique; repeated: {', '.join(dup)}")
        if self.sprt is not None and len(self.players) != 2:
            raise TournamentError(f"SPRT needs exactly 2 players (a match), got {len(self.players)}")
        self.schedule()  # validates format, rounds and players

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.players]

    def schedule(self) -> list[ScheduledGame]:
        return make_schedule(len(self.players), format=self.format, rounds=self.rounds,
                             num_openings=len(self.openings), gauntlet_players=self.gauntlet_players, seed=self.seed)

    def to_dict(self) -> dict:
        return {
            "game": self.game, "game_params": self.game_params, "format": self.format, "rounds": self.rounds,
            "gauntlet_players": self.gauntlet_players, "seed": self.seed, "event": self.event,
            "players": [p.to_dict() for p in self.players],
            "openings": [o.to_dict() for o in self.openings],
            "adjudication": self.adjudication.__dict__,
            "sprt": None if self.sprt is None else self.sprt.__dict__,
            "time_margin": self.time_margin,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TournamentConfig":
        return cls(
            game=d["game"], game_params=dict(d.get("game_params", {})), format=d["format"], rounds=int(d["rounds"]),
            gauntlet_players=int(d.get("gauntlet_players", 1)), seed=int(d["seed"]), event=d.get("event", "plytree tournament"),
            players=tuple(PlayerSpec.from_dict(p) for p in d["players"]),
            openings=tuple(Opening(o["label"], o["start"]) for o in d["openings"]),
            adjudication=Adjudication(**d.get("adjudication", {})),
            sprt=None if d.get("sprt") is None else Sprt(**d["sprt"]),
            time_margin=float(d.get("time_margin", 0.0)),
        )


def termination_of(reason: str) -> str:
    """The PGN ``Termination`` value for a game's reason."""
    if reason == "terminal":
        return "normal"
    if reason.startswith(("adjudication", "max length")):
        return "adjudication"
    if reason.startswith("time forfeit"):
        return "time forfeit"
    if reason.startswith("illegal move"):
        return "rules infraction"
    if "PlayerHangError" in reason:
        return "stalled connection"
    return "abandoned"  # the player crashed


def game_seed(seed: int, index: int) -> int:
    return (seed * 1_000_003 + index * 7919 + 12345) % (2**31 - 1)


class GameWorker:
    """Plays scheduled games; keeps its players between games and rebuilds those that failed.

    One lives in the tournament's own process (concurrency 1), in each worker process, or in each
    Ray actor; all produce the same records for the same game index.
    """

    def __init__(self, config: dict) -> None:
        import games

        self.config = TournamentConfig.from_dict(config)
        self.game = games.load(self.config.game, **self.config.game_params)
        self._players: dict[str, Any] = {}

    def _player(self, spec: PlayerSpec, seed: int):
        player = self._players.get(spec.name)
        if player is None:
            player = self._players[spec.name] = build_player(spec, self.game, seed=seed)
        _reseed(player, seed)
        return player

    def play(self, task: dict) -> dict:
        """Plays schedule entry ``task`` (``ScheduledGame`` fields) and returns its record."""
        cfg = self.config
        g = ScheduledGame(task["index"], task["round"], task["pair"], task["opening"], tuple(task["seats"]))
        specs = [cfg.players[i] for i in g.seats]
        seed = game_seed(cfg.seed, g.index)
        opening = cfg.openings[g.opening]
        players = [self._player(s, seed + k) for k, s in enumerate(specs)]
        first = (self.game.deserialize(opening.start) if opening.start else self.game.new_initial_state()).current_player()
        clocks = [(tc.base, tc.increment) if tc is not None else None for tc in (s.time_control for s in specs)]
        started = datetime.datetime.now(datetime.timezone.utc)
        record = play_game(
            self.game, players, opening=opening.start, limits=[s.limit for s in specs],
            max_moves=cfg.adjudication.max_moves,
            clocks=clocks if any(c is not None for c in clocks) else None,
            adjudicate=cfg.adjudication.referee(first), time_margin=cfg.time_margin,
        )
        if record.reason.startswith("time forfeit") and self.game.name.startswith("chess"):
            _flag_with_no_mating_material(record, self.game.name == "chess960")
        for spec, player in zip(specs, players, strict=True):
            if getattr(player, "is_broken", False) or (record.reason.startswith(("error by", "illegal move by"))
                                                        and f" by {spec.name}:" in record.reason):
                self._drop(spec.name)
        return _to_json(g, record, specs, opening, started, seed, first)

    def _drop(self, name: str) -> None:
        player = self._players.pop(name, None)
        close = getattr(player, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # a broken player may fail to close; it is gone either way
                pass

    def close(self) -> None:
        for name in list(self._players):
            self._drop(name)


def _flag_with_no_mating_material(record: GameRecord, chess960: bool) -> None:
    """Chess rule: running out of time is a draw when the opponent has no material to mate with."""
    import chess

    board = chess.Board(record.start, chess960=chess960)
    for uci in record.moves:
        board.push_uci(uci)
    winner = record.returns.index(max(record.returns))
    if board.has_insufficient_material(chess.WHITE if winner == 0 else chess.BLACK):
        record.returns = [0.0, 0.0]
        record.reason += "; a draw: the opponent has no mating material"


def _reseed(player, seed: int) -> None:
    """Makes seeded players repeat themselves for a given game, whichever worker plays it."""
    inner = getattr(player, "player", player)
    rng = getattr(inner, "_rng", None)
    if rng is not None and hasattr(rng, "seed"):
        rng.seed(seed)
    search = getattr(inner, "search", None)
    if search is not None:
        try:
            search.seed = seed  # MCTS re-seeds from it in reset(), which new_game() calls
        except AttributeError:
            pass
        evaluator = getattr(search, "evaluator", None)
        if evaluator is not None and hasattr(evaluator, "seed"):
            try:
                evaluator.seed = seed  # MCTS mixes it into its own seed
            except AttributeError:
                pass
        ev_rng = getattr(evaluator, "_rng", None)
        if ev_rng is not None and hasattr(ev_rng, "seed"):
            ev_rng.seed(seed)


def _to_json(g: ScheduledGame, record: GameRecord, specs: Sequence[PlayerSpec], opening: Opening,
             started: datetime.datetime, seed: int, first: int) -> dict:
    diff = record.returns[0] - record.returns[1]
    result = RESULT_TEXT[(diff > 0) - (diff < 0)]
    seats = len(record.players)
    time_used = [0.0] * seats
    for ply, secs in enumerate(record.seconds):
        time_used[(first + ply) % seats] += secs  # plies alternate from the first mover
    tcs = {str(s.time_control) for s in specs if s.time_control is not None}
    return {
        "index": g.index, "round": g.round, "pair": g.pair, "game": record.game,
        "players": list(record.players), "result": result, "returns": list(record.returns),
        "reason": record.reason, "termination": termination_of(record.reason),
        "opening": opening.label, "start": record.start, "plies": len(record.actions),
        "moves": list(record.moves), "actions": [int(a) for a in record.actions],
        "scores": [None if s is None else round(s, 4) for s in record.scores],
        "seconds": [round(s, 4) for s in record.seconds],
        "clock_left": [None if c is None else round(c, 4) for c in record.clock_left],
        "time_used": [round(t, 3) for t in time_used],
        "time_control": "/".join(sorted(tcs)) if tcs else None,
        "seed": seed, "date": started.isoformat(timespec="seconds"), "worker": os.getpid(),
    }


# ---------------------------------------------------------------------------------------------
# the tournament loop


@dataclass
class TournamentResult:
    """What a run left: records of all games played so far, ratings, SPRT state, output files."""

    config: TournamentConfig
    records: list[dict]
    ratings: Ratings
    scheduled: int
    out_dir: Path
    report: str
    sprt: Optional[SprtResult] = None
    stopped_by_sprt: bool = False


def prepare_out_dir(out_dir: Path, config: Optional[TournamentConfig], resume: bool) -> TournamentConfig:
    """Creates the folder and saves the config, or, when resuming, loads the saved one.

    Raises:
        TournamentError: results exist and ``resume`` is off, or ``resume`` finds nothing to resume.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = out_dir / CONFIG_FILE
    if resume:
        if not cfg_path.exists():
            raise TournamentError(f"nothing to resume in {str(out_dir)!r}: no {CONFIG_FILE}")
        saved = TournamentConfig.from_dict(json.loads(cfg_path.read_text()))
        if config is not None and config.to_dict() != saved.to_dict():
            raise TournamentError(f"{out_dir}/{CONFIG_FILE} differs from the tournament given; resume with no "
                                  "players and options, or start a new --out folder")
        return saved
    if config is None:
        raise TournamentError("no tournament to run")
    if (out_dir / GAMES_FILE).exists() and (out_dir / GAMES_FILE).stat().st_size > 0:
        raise TournamentError(f"{out_dir}/{GAMES_FILE} already has games; use --resume or another --out folder")
    tmp = cfg_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config.to_dict(), indent=1))
    os.replace(tmp, cfg_path)
    return config


def run_tournament(
    config: Optional[TournamentConfig],
    out_dir: str | Path,
    *,
    resume: bool = False,
    concurrency: int = 1,
    ray_address: Optional[str] = None,
    progress: bool = True,
    plot: bool = True,
    max_games: Optional[int] = None,
    on_record: Optional[Callable[[dict], None]] = None,
) -> TournamentResult:
    """Runs (or resumes) a tournament and writes its output files into ``out_dir``.

    Args:
        config: the tournament; None to resume the one saved in ``out_dir``.
        out_dir: output folder (``tournament.json``, ``games.jsonl``, ``games.pgn`` for chess,
            ``report.md``, ``ratings.png``).
        resume: continue the games still missing from ``games.jsonl``.
        concurrency: games at once (worker processes, or Ray actors with ``ray_address``).
        ray_address: "local" or a Ray cluster address to run the games on Ray.
        progress: show a tqdm progress bar with the score and Elo so far.
        plot: write ``ratings.png``.
        max_games: stop after this many new games (the rest stays for ``--resume``).
        on_record: called with each new record after it is on disk.

    Returns:
        The result with all records (old and new).
    """
    out = Path(out_dir)
    config = prepare_out_dir(out, config, resume)
    schedule = config.schedule()
    log = out / GAMES_FILE
    records = read_records(log, repair=True)
    done = {r["index"] for r in records}
    todo = [g for g in schedule if g.index not in done]
    if max_games is not None:
        todo = todo[:max_games]
    is_chess = config.game.startswith("chess")
    stopped = _sprt_decided(config, records)
    if todo and not stopped:
        check_players(config)
    bar = _progress(len(schedule), len(records), progress)
    _update_bar(bar, config, records)
    payload = config.to_dict()
    pool = _make_pool(payload, concurrency, ray_address)
    in_flight: dict[concurrent.futures.Future, ScheduledGame] = {}
    queue = list(todo)
    lost: dict[int, int] = {}  # game index -> times its worker died under it
    try:
        while (queue and not stopped) or in_flight:
            while queue and not stopped and len(in_flight) < max(concurrency, 1):
                g = queue.pop(0)
                in_flight[pool.submit("play", dataclasses.asdict(g))] = g
            finished, _ = pool.wait(list(in_flight))
            broken = False
            for future in finished:
                g = in_flight.pop(future)
                try:
                    record = future.result()
                except Exception as exc:
                    if not is_worker_loss(exc):
                        raise
                    # a worker process or actor died (a crash in native code): play the game again
                    lost[g.index] = lost.get(g.index, 0) + 1
                    if lost[g.index] > MAX_WORKER_LOSSES:
                        raise TournamentError(f"game {g.index} killed its worker {lost[g.index]} times ({exc!r}); "
                                              "the games so far are saved, fix the player and --resume") from exc
                    queue.insert(0, g)
                    broken = True
                    continue
                append_record(log, record)
                if is_chess:
                    _append_pgn(out / PGN_FILE, record, config)
                records.append(record)
                if on_record is not None:
                    on_record(record)
                bar.update(1)
                _update_bar(bar, config, records)
                stopped = stopped or _sprt_decided(config, records)
            if broken:
                for g in in_flight.values():  # their worker pool is gone with the dead worker
                    queue.insert(0, g)
                queue.sort(key=lambda g: g.index)
                in_flight.clear()
                pool.close()
                pool = _make_pool(payload, concurrency, ray_address)
    finally:
        bar.close()
        pool.close()
    records.sort(key=lambda r: r["index"])
    return _finish(config, out, records, len(schedule), plot, stopped)


MAX_WORKER_LOSSES = 2


def _make_pool(payload: dict, concurrency: int, ray_address: Optional[str]) -> WorkerPool:
    """Game workers: this process (concurrency 1), spawned processes, or Ray actors."""
    return WorkerPool(GameWorker, (payload,), workers=max(concurrency, 1), ray_address=ray_address)


def check_players(config: TournamentConfig) -> None:
    """Builds every player once (UCI engines are started and configured) so that a wrong option,
    command or model stops the tournament before its first game instead of forfeiting every game.

    Raises:
        TournamentError: a player that cannot be built, with the cause.
    """
    import games

    game = games.load(config.game, **config.game_params)
    for spec in config.players:
        try:
            player = build_player(spec, game, seed=config.seed)
            check = getattr(player, "check", None)
            if check is not None:
                check()
            player.close()
        except (ValueError, RuntimeError, TypeError, OSError, ImportError, AttributeError) as exc:
            raise TournamentError(f"player {spec.name!r} ({spec.describe()}) cannot play: {exc}") from exc


def _sprt_decided(config: TournamentConfig, records: list[dict]) -> bool:
    if config.sprt is None:
        return False
    return config.sprt.status(pentanomial(records, config.names[0], config.names[1])).decision is not None


def _append_pgn(path: Path, record: dict, config: TournamentConfig) -> None:
    from engine._tournament_output import pgn_text

    with open(path, "a", encoding="utf-8") as f:
        f.write(pgn_text(record, event=config.event, chess960=config.game == "chess960"))
        f.flush()


def _finish(config: TournamentConfig, out: Path, records: list[dict], scheduled: int, plot: bool,
            stopped: bool) -> TournamentResult:
    names = config.names
    ratings = ratings_of(names, records)
    title = f"{config.event}: {config.game}, {config.format}, {len(names)} players"
    report = report_text(names, records, title=title, scheduled=scheduled, sprt=config.sprt)
    (out / REPORT_FILE).write_text(report)
    if config.game.startswith("chess"):
        write_pgn(out / PGN_FILE, records, event=config.event, chess960=config.game == "chess960")
    if plot and records:
        plot_ratings(ratings, out / PLOT_FILE, title=title)
    sprt_state = None
    if config.sprt is not None:
        sprt_state = config.sprt.status(pentanomial(records, names[0], names[1]))
    return TournamentResult(config, records, ratings, scheduled, out, report, sprt_state, stopped)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="game", file=sys.stderr,
                dynamic_ncols=True, leave=True)


def _update_bar(bar, config: TournamentConfig, records: list[dict]) -> None:
    if bar.disable or not records:
        return
    names = config.names
    r = ratings_of(names, records)
    if len(names) == 2:
        from engine._tournament_output import results_table

        w, d, l = results_table(names, records)[0, 1]
        elo, err = r.diff(names[0], names[1])
        text = f"{names[0]} +{int(w)}={int(d)}-{int(l)} Elo {elo:+.0f}±{err:.0f}"
        if config.sprt is not None:
            text += f" LLR {config.sprt.status(pentanomial(records, names[0], names[1])).llr:+.2f}"
    else:
        best = int(r.elo.argmax())
        text = f"lead {names[best]} {r.elo[best]:+.0f}±{r.error[best]:.0f} ({r.score[best]:g}/{int(r.games[best])})"
    bar.set_postfix_str(text, refresh=False)
