"""The ``go`` command: its parameters read leniently and turned into the search's ``Limit``.

Every ``go`` must be answered by exactly one ``bestmove``, so nothing in a ``go`` line is fatal: an
unknown parameter, a missing or unreadable number is skipped, and a number out of range (negative,
``inf``, ``1e999``) is clamped into range; each such repair is reported as a note that the engine
prints as ``info string``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mcts import Limit

__all__ = ["GO_RANGES", "GoCommand", "parse_go"]

# the range of each numeric parameter (milliseconds for times); larger numbers are clamped to the top:
# 10**9 ms is 11.6 days, far beyond any clock, and every bound fits a C int64
GO_RANGES: dict[str, tuple[int, int]] = {
    "wtime": (0, 10**9), "btime": (0, 10**9), "winc": (0, 10**9), "binc": (0, 10**9),
    "movetime": (0, 10**9), "movestogo": (0, 10_000), "depth": (1, 1000), "mate": (1, 500),
    "nodes": (1, 10**15),
}
_FLAGS = ("infinite", "ponder")


@dataclass(frozen=True)
class GoCommand:
    """A ``go`` line as read.

    Attributes:
        numbers: the numeric parameters that were read (times in milliseconds), each within range.
        searchmoves: the ``searchmoves`` texts as given (checked against the position later).
        infinite: ``go infinite`` (also a bare ``go``: search until stopped, as Stockfish does).
        ponder: ``go ponder``.
        notes: what was skipped or clamped, one sentence each.
    """

    numbers: dict[str, int] = field(default_factory=dict)
    searchmoves: tuple[str, ...] = ()
    infinite: bool = False
    ponder: bool = False
    notes: tuple[str, ...] = ()

    def limit(self) -> Limit:
        """The search's ``Limit`` (milliseconds become seconds; no limit at all means infinite)."""
        numbers = self.numbers
        fields: dict[str, Any] = {}
        for key in ("wtime", "btime", "winc", "binc"):
            if key in numbers:
                fields[key] = numbers[key] / 1000.0
        if "movetime" in numbers:
            fields["time"] = numbers["movetime"] / 1000.0
        for key in ("depth", "nodes", "mate"):
            if key in numbers:
                fields[key] = numbers[key]
        if numbers.get("movestogo"):
            fields["movestogo"] = numbers["movestogo"]
        if self.infinite or not fields:
            fields["infinite"] = True
        return Limit(**fields)


def _read_number(key: str, text: str, notes: list[str]) -> int | None:
    """The value of ``key`` from ``text``, clamped into its range; None (with a note) if unreadable."""
    try:
        value = float(text)
    except ValueError:
        notes.append(f"go {key} needs a number, got {text[:40]!r}: ignored")
        return None
    if math.isnan(value):
        notes.append(f"go {key} {text[:40]} is not a number: ignored")
        return None
    low, high = GO_RANGES[key]
    if value < low:
        notes.append(f"go {key} {text[:40]} is below {low}: using {low}")
        return low
    if value > high:
        notes.append(f"go {key} {text[:40]} is above {high}: using {high}")
        return high
    return int(value)


def parse_go(args: list[str]) -> GoCommand:
    """Reads the tokens after ``go``; never raises (see the module docstring)."""
    numbers: dict[str, int] = {}
    searchmoves: list[str] = []
    flags = {name: False for name in _FLAGS}
    notes: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token in GO_RANGES:
            if i + 1 >= len(args) or args[i + 1] in GO_RANGES or args[i + 1] in _FLAGS or args[i + 1] == "searchmoves":
                notes.append(f"go {token} needs a value: ignored")
                i += 1
                continue
            value = _read_number(token, args[i + 1], notes)
            if value is not None:
                numbers[token] = value
            i += 2
        elif token in _FLAGS:
            flags[token] = True
            i += 1
        elif token == "searchmoves":
            i += 1
            while i < len(args) and args[i] not in GO_RANGES and args[i] not in _FLAGS:
                searchmoves.append(args[i])
                i += 1
        else:
            notes.append(f"unknown go parameter {token[:40]!r}: ignored")
            i += 1
    return GoCommand(numbers, tuple(searchmoves), flags["infinite"], flags["ponder"], tuple(notes))
