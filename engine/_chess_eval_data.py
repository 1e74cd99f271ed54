"""Training positions for the learned chess evaluation (``plytree learn chess-eval``).

Games: an opening from ``chessathome_openings.fen`` plus a few random plies, then plytree's C
alpha-beta at a shallow random depth (2-4) plays both sides, with a few random moves early on for
variety. A position is a candidate when it is quiet: the side to move is not in check and the
searcher's best move is neither a capture nor a promotion (so the static evaluation is asked what a
quiescence search would see). At the end of the game at most ``positions_per_game`` candidates are
drawn at random (many games, few positions each: positions of one game are alike) and labelled by
Stockfish (raw UCI pipe, one thread), as ``label`` says:

* ``eval``: Stockfish's static evaluation (the UCI ``eval`` command, its NNUE; ~0.1 ms a position);
* ``nodes:N`` / ``depth:N``: a search of N nodes / plies (then a position whose best move is a capture or
  promotion is dropped too).

The game result (WDL) comes from the played-out game, adjudicated on the searcher's scores (a side
1,000 cp up for 8 plies wins; 400 plies, or |score| < 20 for 40 plies after ply 160, is a draw).

Shards (``models.chess_data``) are numbered; shard ``i`` is generated from seed ``i`` by worker
``i % workers``; a shard that exists is skipped, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from models.chess_data import MATE_CP, board_codes, write_shard

STOCKFISH_PATHS = ("stockfish", "/usr/games/stockfish", "/usr/local/bin/stockfish")
DEFAULT_OPENINGS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chess" / "epd" / "chessathome_openings.fen"


class LabellerError(RuntimeError):
    """Stockfish could not be started or stopped answering."""


def find_stockfish(path: Optional[str] = None) -> str:
    """The Stockfish binary: ``path`` if given, else the first of ``STOCKFISH_PATHS`` that exists.

    Raises:
        FileNotFoundError: none found (``apt-get install -y stockfish``).
    """
    for candidate in ([path] if path else STOCKFISH_PATHS):
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            return found
    raise FileNotFoundError(f"Stockfish not found ({path or ', '.join(STOCKFISH_PATHS)}); apt-get install -y stockfish")


LABEL_KINDS = ("eval", "nodes", "depth")


def parse_label(spec: str) -> tuple[str, int]:
    """``"eval"``, ``"nodes:N"`` or ``"depth:N"`` as ``(kind, N)`` (N is 0 for ``eval``).

    Raises:
        ValueError: another form, or N < 1.
    """
    kind, _, count = spec.strip().lower().partition(":")
    if kind == "eval" and not count:
        return "eval", 0
    if kind in ("nodes", "depth") and count.isdigit() and int(count) >= 1:
        return kind, int(count)
    raise ValueError(f"label must be 'eval', 'nodes:N' or 'depth:N' (N >= 1), got {spec!r}")


class Stockfish:
    """Stockfish over raw UCI pipes (faster than python-chess's engine module for short searches).

    Args:
        path: the binary.
        nodes: nodes per position of ``score`` (``go nodes``), unless ``depth`` is given.
        depth: plies per position of ``score`` (``go depth``).
        hash_mb: its hash table.
    """

    def __init__(self, path: str, *, nodes: int = 2500, depth: Optional[int] = None, hash_mb: int = 16) -> None:
        self.nodes, self.depth = nodes, depth
        try:
            self.proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        except OSError as exc:
            raise LabellerError(f"cannot start {path}: {exc}") from exc
        self._send("uci")
        self._wait("uciok")
        self._send("setoption name Threads value 1")
        self._send(f"setoption name Hash value {hash_mb}")
        self._send("isready")
        self._wait("readyok")

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")

    def _wait(self, prefix: str) -> list[str]:
        lines = []
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise LabellerError(f"Stockfish exited (waiting for {prefix!r})")
            lines.append(line)
            if line.startswith(prefix):
                return lines

    def score(self, fen: str) -> tuple[int, str]:
        """Score (centipawns for the side to move, mates as +-``MATE_CP``) and best move (UCI) of a search."""
        self._send(f"position fen {fen}")
        self._send(f"go depth {self.depth}" if self.depth else f"go nodes {self.nodes}")
        lines = self._wait("bestmove")
        best = lines[-1].split()[1]
        cp: Optional[int] = None
        exact: Optional[int] = None
        for line in lines:
            if " score " not in line:
                continue
            words = line.split()
            i = words.index("score")
            value = int(words[i + 2])
            s = value if words[i + 1] == "cp" else (MATE_CP if value > 0 else -MATE_CP)
            cp = s
            if words[i + 3] not in ("lowerbound", "upperbound"):
                exact = s
        if cp is None:
            raise LabellerError(f"no score from Stockfish for {fen!r}")
        return (exact if exact is not None else cp), best

    def static_eval(self, fen: str) -> Optional[int]:
        """Stockfish's static evaluation in centipawns for the side to move (the UCI ``eval`` command,
        whose "Final evaluation" is in pawns from White's side, on the scale of its search scores);
        None in check (Stockfish does not evaluate there)."""
        self._send(f"position fen {fen}")
        self._send("eval")
        line = self._wait("Final evaluation")[-1]
        words = line.split(":", 1)[-1].split() if ":" in line else line.split()[2:]
        if not words or words[0] == "none":
            return None
        try:
            white = round(float(words[0]) * 100)
        except ValueError as exc:
            raise LabellerError(f"unreadable evaluation from Stockfish: {line.strip()!r}") from exc
        return white if fen.split()[1] == "w" else -white

    def close(self) -> None:
        try:
            self._send("quit")
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()


@dataclass(frozen=True)
class DataConfig:
    """How positions are made (see the module docstring)."""

    positions_per_shard: int = 4096
    label: str = "eval"             # "eval", "nodes:N" or "depth:N" (``parse_label``)
    positions_per_game: int = 10    # candidates drawn from each game (0: every quiet position)
    random_plies: int = 2           # random plies after the opening position (0..this)
    random_move_rate: float = 0.05  # chance of a random move in the first 30 plies
    max_plies: int = 400
    stockfish: Optional[str] = None
    openings: Optional[str] = None

    def __post_init__(self) -> None:
        parse_label(self.label)
        if self.positions_per_shard < 1 or self.positions_per_game < 0:
            raise ValueError(f"positions_per_shard must be >= 1 and positions_per_game >= 0, got "
                             f"{self.positions_per_shard}, {self.positions_per_game}")


def open_labeller(cfg: DataConfig) -> Stockfish:
    """A Stockfish process set up for ``cfg.label``."""
    kind, count = parse_label(cfg.label)
    return Stockfish(find_stockfish(cfg.stockfish), nodes=count if kind == "nodes" else 2500,
                     depth=count if kind == "depth" else None)


def _read_openings(path: Optional[str]) -> list[str]:
    p = Path(path) if path else DEFAULT_OPENINGS
    if not p.is_file():
        raise FileNotFoundError(f"openings file {p} not found (--openings)")
    fens = [line.strip() for line in p.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not fens:
        raise ValueError(f"{p}: no FEN lines")
    return fens


def _label(sf: Stockfish, kind: str, fen: str) -> Optional[int]:
    """Stockfish's label of a candidate (None: drop it: in check, or a search's best move is not quiet)."""
    import chess

    if kind == "eval":
        return sf.static_eval(fen)
    score, best = sf.score(fen)
    board = chess.Board(fen)
    move = chess.Move.from_uci(best)
    return None if board.is_capture(move) or move.promotion is not None else score


def _play_game(rng: random.Random, fens: list[str], sf: Stockfish, searcher, game, cfg: DataConfig) -> dict[str, list]:
    """One game; returns the labelled positions (quiet ones, at most ``cfg.positions_per_game``) and the result."""
    import chess

    from mcts import Limit

    from games.chess_encoding import action_to_move
    from games.chessboard import from_fen

    empty: dict[str, list] = {"board": [], "stm": [], "score": [], "ply": [], "result": []}
    board = chess.Board(rng.choice(fens))
    for _ in range(rng.randint(0, cfg.random_plies)):
        moves = list(board.legal_moves)
        if not moves or board.is_game_over():
            break
        board.push(rng.choice(moves))
    if board.is_game_over():
        return empty
    state = from_fen(board.fen(), game)
    candidates: list[tuple[int, chess.Board]] = []
    winner: Optional[int] = None     # 0 white, 1 black, -1 draw
    big_run, quiet_run, last_sign = 0, 0, 0
    for ply in range(cfg.max_plies):
        if state.is_terminal():
            r = state.returns()
            winner = -1 if r[0] == 0 else (0 if r[0] > 0 else 1)
            break
        b = state.to_board(with_history=False)
        result = searcher.run(state, Limit(depth=rng.randint(2, 4), nodes=20_000))
        legal = state.legal_actions()
        action = result.best_action if result.best_action in legal else rng.choice(legal)
        score = int(result.score)
        white_score = score if b.turn == chess.WHITE else -score
        sign = 1 if white_score >= 1000 else (-1 if white_score <= -1000 else 0)
        big_run = big_run + 1 if sign != 0 and sign == last_sign else (1 if sign else 0)
        last_sign = sign
        if big_run >= 8:
            winner = 0 if sign > 0 else 1
            break
        quiet_run = quiet_run + 1 if abs(score) < 20 else 0
        if ply >= 160 and quiet_run >= 40:
            winner = -1
            break
        move = action_to_move(action, b) if not b.is_check() else None
        if move is not None and not b.is_capture(move) and move.promotion is None:
            candidates.append((ply, b))
        if ply < 30 and rng.random() < cfg.random_move_rate:
            action = rng.choice(legal)
        state.apply_action(action)
    if winner is None:
        winner = -1
    if cfg.positions_per_game and len(candidates) > cfg.positions_per_game:
        candidates = sorted(rng.sample(candidates, cfg.positions_per_game), key=lambda c: c[0])
    kind, _ = parse_label(cfg.label)
    rows = {k: [] for k in empty}
    for ply, b in candidates:
        label = _label(sf, kind, b.fen())
        if label is None:
            continue
        stm = 0 if b.turn == chess.WHITE else 1
        rows["board"].append(board_codes(b)[0])
        rows["stm"].append(stm)
        rows["score"].append(label)
        rows["ply"].append(ply)
        rows["result"].append(0 if winner == -1 else (1 if winner == stm else -1))
    return rows


def make_shard(index: int, out: Path, cfg: DataConfig, progress=None, deadline: Optional[float] = None) -> int:
    """Plays games from seed ``index`` until ``cfg.positions_per_shard`` positions; writes shard ``index``.

    Args:
        index: the shard number (and the seed of its games).
        out: the shard directory.
        cfg: game and labelling settings.
        progress: called with the positions of each finished game.
        deadline: ``time.time()`` after which no new game starts (the shard is then written short).

    Returns:
        Positions written (0: none, no file).
    """
    import games
    from mcts import AlphaBeta

    rng = random.Random(index)
    fens = _read_openings(cfg.openings)
    game = games.load("chess")
    searcher = AlphaBeta(game, tt_bytes=1 << 20)
    sf = open_labeller(cfg)
    cols: dict[str, list] = {"board": [], "stm": [], "score": [], "result": [], "ply": []}
    try:
        while len(cols["board"]) < cfg.positions_per_shard:
            if deadline is not None and time.time() > deadline:
                break
            rows = _play_game(rng, fens, sf, searcher, game, cfg)
            for k in cols:
                cols[k].extend(rows[k])
            if progress is not None:
                progress(len(rows["board"]))
    finally:
        sf.close()
    n = min(cfg.positions_per_shard, len(cols["board"]))
    if n == 0:
        return 0
    write_shard(out / f"shard_{index:05d}.npz", np.stack(cols["board"][:n]), np.array(cols["stm"][:n]),
                np.array(cols["score"][:n]), np.array(cols["result"][:n]), np.array(cols["ply"][:n]))
    return n


def _worker(worker: int, workers: int, todo: list[int], out: str, cfg: DataConfig, queue,
            deadline: Optional[float]) -> None:
    try:
        for index in todo:
            if deadline is not None and time.time() > deadline:
                break
            if index % workers == worker:
                make_shard(index, Path(out), cfg, progress=queue.put, deadline=deadline)
    finally:
        queue.put(None)


def generate(data: str, positions: int, *, workers: int = 1, cfg: DataConfig = DataConfig(),
             time_limit: Optional[float] = None, progress_bar: bool = True) -> dict[str, float]:
    """Generates shards until ``data`` holds at least ``positions`` positions (existing shards count).

    Args:
        data: the shard directory (created).
        positions: positions wanted in all.
        workers: processes (each runs its own Stockfish).
        cfg: game and labelling settings.
        time_limit: start no new game after this many seconds (the running shards are written short).
        progress_bar: tqdm bar (a plain stderr line when tqdm is missing).

    Returns:
        ``{"positions": ..., "new_positions": ..., "seconds": ..., "positions_per_second": ...}``.
    """
    if positions < 1 or workers < 1:
        raise ValueError(f"positions and workers must be >= 1, got {positions}, {workers}")
    out = Path(data)
    out.mkdir(parents=True, exist_ok=True)
    shards = -(-positions // cfg.positions_per_shard)
    todo = [i for i in range(shards) if not (out / f"shard_{i:05d}.npz").exists()]
    if todo:
        find_stockfish(cfg.stockfish)
        _read_openings(cfg.openings)
    have = (shards - len(todo)) * cfg.positions_per_shard
    start = time.monotonic()
    new = 0
    try:
        from tqdm import tqdm
        bar = tqdm(total=shards * cfg.positions_per_shard, initial=have, unit="pos", desc="chess-eval data",
                   disable=not progress_bar, smoothing=0.05)
    except ImportError:  # pragma: no cover - tqdm ships with the dev extras
        bar = None
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = []
    deadline = time.time() + time_limit if time_limit is not None else None
    for w in range(min(workers, len(todo))):
        p = ctx.Process(target=_worker, args=(w, workers, todo, str(out), cfg, queue, deadline), daemon=True)
        p.start()
        procs.append(p)
    running = len(procs)
    try:
        while running:
            item = queue.get()
            if item is None:
                running -= 1
                continue
            new += item
            if bar is not None:
                bar.update(item)
            elif progress_bar:
                print(f"\rchess-eval data: {have + new} positions", end="", file=sys.stderr)
    finally:
        for p in procs:
            p.join(timeout=10)
        if bar is not None:
            bar.close()
    seconds = time.monotonic() - start
    files = sorted(out.glob("shard_*.npz"))
    total = 0
    for f in files:
        with np.load(f) as z:
            total += len(z["stm"])
    return {"positions": total, "new_positions": new, "seconds": round(seconds, 1),
            "positions_per_second": round(new / seconds, 1) if seconds > 0 else 0.0}
