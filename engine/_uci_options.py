"""UCI options: the ``option`` lines plytree announces and the parsing of ``setoption`` values."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

__all__ = ["OPTIONS", "OPTION_BY_KEY", "REBUILD_OPTIONS", "UciOption", "split_setoption"]


@dataclass(frozen=True)
class UciOption:
    """One ``option`` line: name, UCI type (check, spin, combo, string, button), default, range."""

    name: str
    type: str
    default: Any
    min: Optional[int] = None
    max: Optional[int] = None
    choices: tuple[str, ...] = ()
    help: str = ""
    is_file: bool = False   # a string naming a file: refused at setoption when there is no such file

    def line(self) -> str:
        """The ``option name ... type ...`` line announced after ``uci``."""
        default = self.default
        if self.type == "check":
            default = "true" if default else "false"
        elif self.type == "string" and default == "":
            default = "<empty>"
        text = f"option name {self.name} type {self.type}"
        if self.type != "button":
            text += f" default {default}"
        if self.min is not None:
            text += f" min {self.min} max {self.max}"
        for choice in self.choices:
            text += f" var {choice}"
        return text

    def parse(self, value: str) -> Any:
        """The option's value from ``setoption`` text.

        Raises:
            ValueError: the text does not fit the option's type or range (the message says which).
        """
        if self.type == "check":
            low = value.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(f"{self.name} takes true or false, got {value[:80]!r}")
            return low == "true"
        if self.type == "spin":
            try:
                number = int(value.strip())
            except ValueError:
                raise ValueError(f"{self.name} takes an integer, got {value[:80]!r}") from None
            if not self.min <= number <= self.max:  # type: ignore[operator]
                raise ValueError(f"{self.name} must be in [{self.min}, {self.max}], got {number}")
            return number
        if self.type == "combo":
            for choice in self.choices:
                if choice.lower() == value.strip().lower():
                    return choice
            raise ValueError(f"{self.name} takes one of {', '.join(self.choices)}, got {value[:80]!r}")
        if self.type == "string":
            text = "" if value.strip() in ("", "<empty>") else value.strip()
            if self.is_file and text and not _names_a_file(text):
                raise ValueError(f"{self.name}: file {text[:200]!r} does not exist")
            return text
        return True  # button


def _names_a_file(text: str) -> bool:
    """Whether ``text`` is the path of a regular file (a name too long for the system, or with a NUL
    character, names none)."""
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


OPTIONS: tuple[UciOption, ...] = (
    UciOption("Threads", "spin", 1, 1, 256,
              help="search threads: alpha-beta helpers over one table (Lazy SMP); MCTS batches in flight"),
    UciOption("Hash", "spin", 64, 1, 4096, help="transposition table (alpha-beta) or tree memory (MCTS) in MiB"),
    UciOption("MultiPV", "spin", 1, 1, 64, help="number of principal variations reported"),
    UciOption("Ponder", "check", False, help="the GUI may let the engine think on the opponent's time"),
    UciOption("UCI_Chess960", "check", False, help="Chess960: castling as king takes rook"),
    UciOption("UCI_ShowWDL", "check", False, help="report win/draw/loss permille in info lines"),
    UciOption("Move Overhead", "spin", 30, 0, 5000, help="milliseconds per move lost outside the engine"),
    UciOption("SearchKind", "combo", "alphabeta", choices=("alphabeta", "mcts"),
              help="alpha-beta with the engine's own evaluation, or MCTS (PUCT)"),
    UciOption("ModelFile", "string", "", is_file=True, help="ONNX network for MCTS (empty: the static evaluation)"),
    UciOption("CPuct", "spin", 125, 1, 1000, help="MCTS exploration constant c_puct times 100"),
    UciOption("BatchSize", "spin", 16, 1, 1024, help="MCTS leaves per evaluator call"),
    UciOption("UseNNUE", "check", True,
              help="alpha-beta evaluates with the learned network (EvalFile); false: the hand-written evaluation"),
    UciOption("EvalFile", "string", "", is_file=True, help="chess NNUE for UseNNUE (ONNX; empty: models/zoo/chess_nnue.onnx)"),
)
OPTION_BY_KEY: dict[str, UciOption] = {o.name.lower(): o for o in OPTIONS}

# settings that need a new search object (a new table, tree, network or game)
REBUILD_OPTIONS: frozenset[str] = frozenset({"hash", "searchkind", "modelfile", "cpuct", "batchsize", "uci_chess960",
                                             "usennue", "evalfile", "threads"})


def split_setoption(text: str) -> tuple[str, str]:
    """``name <id> [value <x>]`` (the text after ``setoption``) as ``(id, x)``; x is "" without value.

    Runs of whitespace (tabs included) count as one space, as UCI tokens are whitespace-separated.

    Raises:
        ValueError: the text does not start with ``name``.
    """
    text = re.sub(r"\s+", " ", text).strip()
    if not text.startswith("name "):
        raise ValueError(f"setoption needs 'name <id> [value <x>]', got {text[:200]!r}")
    rest = f" {text[len('name '):]} "
    if " value " in rest:
        name, value = rest.split(" value ", 1)
        return name.strip(), value.strip()
    return rest.strip(), ""
