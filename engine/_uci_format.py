"""What the UCI engine writes: ``info`` lines (score, wdl, MultiPV, pv) and the line printer.

Scores: alpha-beta results carry a typed score (``extra["score"]``: ``mcts.Cp`` or ``mcts.Mate``);
MCTS results carry only a value in [-1, 1], shown as centipawns through the inverse of the one
score-to-value map of ``mcts`` (``mcts.value_to_score`` at ``mcts.CHESS_SCALE``).
"""
from __future__ import annotations

import contextlib
import math
import threading
from typing import Any, Callable, Iterator, Optional, Sequence, TextIO

import chess

from games.chess_encoding import action_to_move
from mcts import CHESS_SCALE, Cp, Mate, Score, SearchResult, to_score, value_to_score

__all__ = ["Printer", "typed_score", "info_lines", "pv_moves", "uci_line", "value_to_cp", "wdl"]



class Printer:
    """Thread-safe line output that writes only printable ASCII (one line per call).

    Anything else (non-ASCII text echoed from the input, control characters) is escaped, so a
    reply never breaks the line protocol or fails on a narrow output encoding.
    """

    def __init__(self, out: TextIO | Callable[[str], None]) -> None:
        self._lock = threading.Lock()
        self._write: Callable[[str], None]
        self._stream: Any = None if callable(out) and not hasattr(out, "write") else out
        if callable(out) and not hasattr(out, "write"):
            self._write = out  # type: ignore[assignment]
        else:
            stream = out

            def write(line: str) -> None:
                stream.write(line + "\n")  # type: ignore[union-attr]
                if not self._batched or line.startswith("bestmove"):
                    stream.flush()  # type: ignore[union-attr]

            self._write = write
        self._batched = False

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Within: ``info`` lines are flushed together with the next ``bestmove`` (or at the end),
        so that a quick move wakes the GUI once, not once per line. A stream only."""
        self._batched = True
        try:
            yield
        finally:
            self._batched = False
            with self._lock:
                flush = getattr(self._stream, "flush", None)
                if flush is not None:
                    try:
                        flush()
                    except (BrokenPipeError, ValueError, OSError):
                        pass

    def __call__(self, line: str) -> None:
        if not line.isascii() or not line.isprintable():
            line = "".join(c if c.isprintable() and c.isascii() else ascii(c)[1:-1] for c in line)
        with self._lock:
            try:
                self._write(line)
            except (BrokenPipeError, ValueError, OSError):
                pass  # the GUI went away; the read loop will see EOF


def wdl(value: float) -> tuple[int, int, int]:
    """Win/draw/loss permille from a value in [-1, 1] (draws likeliest near 0)."""
    value = max(-1.0, min(1.0, value))
    draw = max(0.0, 1.0 - abs(value)) * 0.6
    win = max(0.0, (1.0 + value) / 2.0 - draw / 2.0)
    w = int(round(1000 * win))
    d = int(round(1000 * draw))
    return w, d, 1000 - w - d


def value_to_cp(value: float) -> int:
    """Centipawns for a value in [-1, 1] (the inverse of mcts' chess score-to-value map); NaN counts as 0."""
    return value_to_score(0.0 if value != value else value, CHESS_SCALE)


def typed_score(result: SearchResult) -> Optional[Score]:
    """The result's ``Cp``/``Mate`` (``extra["score"]``, else read from its integer score), or None."""
    typed = result.extra.get("score") if isinstance(result.extra, dict) else None
    if isinstance(typed, (Cp, Mate)):
        return typed
    return to_score(result.score) if result.score is not None else None


def uci_line(board: chess.Board, moves: Sequence[chess.Move]) -> list[str]:
    """The UCI texts of ``moves`` played in turn from ``board``."""
    replay = board.copy(stack=False)
    out = []
    for move in moves:
        out.append(replay.uci(move))
        replay.push(move)
    return out


def pv_moves(board: chess.Board, actions: Sequence[int]) -> list[chess.Move]:
    """The legal prefix of a principal variation of actions, as moves."""
    replay = board.copy(stack=False)
    moves = []
    for action in actions:
        try:
            move = action_to_move(int(action), replay)
        except (ValueError, IndexError, TypeError):
            break
        if not replay.is_legal(move):
            break
        moves.append(move)
        replay.push(move)
    return moves


def multipv_lines(result: SearchResult, multipv: int) -> list[dict]:
    """Up to ``multipv`` lines ``{pv, score, value, depth, seldepth, proven, typed}``, best first.

    A search's own lines (``extra["multipv"]``: SearchResults or dicts with ``pv``/``score``/``value``)
    come first; MCTS fills them from the root's per-action statistics.
    """
    extra = result.extra if isinstance(result.extra, dict) else {}
    base: dict[str, Any] = {
        "depth": result.depth, "seldepth": result.seldepth, "score": result.score, "value": result.value,
        "pv": tuple(result.pv) or ((result.best_action,) if result.best_action >= 0 else ()),
        "proven": result.proven_value if result.is_proven else None, "typed": typed_score(result)}
    lines = [base]
    own = extra.get("multipv")
    if multipv > 1 and own:
        lines = []
        for item in own[:multipv]:
            if isinstance(item, SearchResult):
                lines.append({"depth": item.depth or result.depth, "seldepth": item.seldepth or result.seldepth,
                              "score": item.score, "value": item.value,
                              "pv": tuple(item.pv) or (item.best_action,),
                              "proven": item.proven_value if item.is_proven else None,
                              "typed": typed_score(item)})
            elif isinstance(item, dict):
                lines.append({"depth": item.get("depth", result.depth),
                              "seldepth": item.get("seldepth", result.seldepth),
                              "score": item.get("score"), "value": item.get("value", 0.0),
                              "pv": tuple(item.get("pv", ())), "proven": None})
        return lines or [base]
    if multipv > 1 and result.visits and len(result.visits) == len(result.actions):
        order = sorted(range(len(result.actions)), key=lambda i: -result.visits[i])
        for i in order:
            action = result.actions[i]
            if base["pv"] and action == base["pv"][0]:
                continue
            if len(lines) >= multipv or result.visits[i] == 0:
                break
            q = result.q_values[i] if result.q_values else float("nan")
            lines.append({"depth": 1, "seldepth": 1, "score": None,
                          "value": q if q == q else -1.0, "pv": (action,), "proven": None})
    return lines


def score_text(line: dict, pv_length: int) -> str:
    """``score cp X`` or ``score mate M`` for one MultiPV line."""
    score = line["score"]
    typed = line.get("typed")
    if typed is None and score is not None:
        typed = to_score(int(score))
    if isinstance(typed, Mate):
        return f"score mate {typed.moves}"
    if line.get("proven") is not None and score is None:
        if line["proven"] == 0:
            return "score cp 0"
        moves = max(1, (pv_length + 1) // 2)
        return f"score mate {moves if line['proven'] > 0 else -moves}"
    if isinstance(typed, Cp):
        return f"score cp {typed.cp}"
    return f"score cp {value_to_cp(line['value'])}"


def _line_value(line: dict) -> float:
    """The line's value in [-1, 1] for the WDL estimate (from its score where it has one)."""
    typed = line.get("typed")
    if isinstance(typed, Mate):
        return 1.0 if typed.plies > 0 else -1.0
    if isinstance(typed, Cp):
        return math.tanh(typed.cp / CHESS_SCALE)
    return float(line["value"])


def info_lines(board: chess.Board, result: SearchResult, *, multipv: int, seconds: float, show_wdl: bool,
               hashfull: Optional[int]) -> list[str]:
    """The ``info depth ... pv ...`` lines (one per MultiPV line) for an interim or final result."""
    elapsed_ms = max(0, int(round(seconds * 1000)))
    nodes = result.nodes or result.simulations
    extra = result.extra if isinstance(result.extra, dict) else {}
    if extra.get("hashfull") is not None:
        hashfull = int(extra["hashfull"])
    out = []
    for index, line in enumerate(multipv_lines(result, multipv), 1):
        pv = pv_moves(board, line["pv"])
        if not pv:
            continue
        parts = [f"info depth {max(1, line['depth'])}"]
        if line["seldepth"]:
            parts.append(f"seldepth {max(line['seldepth'], line['depth'])}")
        parts.append(f"multipv {index}")
        parts.append(score_text(line, len(line["pv"])))
        if show_wdl:
            w, d, l = wdl(_line_value(line))
            parts.append(f"wdl {w} {d} {l}")
        parts.append(f"nodes {nodes}")
        parts.append(f"nps {int(nodes / seconds) if seconds > 0 else 0}")
        if hashfull is not None:
            parts.append(f"hashfull {int(hashfull)}")
        parts.append(f"time {elapsed_ms}")
        parts.append("pv " + " ".join(uci_line(board, pv)))
        out.append(" ".join(parts))
    return out
