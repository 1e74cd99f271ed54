"""``plytree uci``: the engine over the UCI protocol on stdin/stdout (for GUIs and python-chess)."""
from __future__ import annotations

import argparse

HELP = "run as a UCI chess engine on stdin/stdout (register 'plytree uci' in a GUI)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--search", choices=("alphabeta", "mcts"), default=None,
                   help="initial SearchKind option (default alphabeta; the GUI may change it)")
    p.add_argument("--model", default=None, help="initial ModelFile option (ONNX network for MCTS)")


def run(args: argparse.Namespace) -> int:
    import sys

    from engine.uci import UciEngine, dump_stacks_on_sigusr1

    dump_stacks_on_sigusr1()  # a stuck engine can be asked where it waits (the UCI tests do)

    # the options are set after the GUI's ``uci`` has been answered: nothing may precede uciok
    startup = []
    if args.search:
        startup.append(f"setoption name SearchKind value {args.search}")
    if args.model:
        startup.append(f"setoption name ModelFile value {args.model}")
    engine = UciEngine(sys.stdout, startup=startup)
    return engine.run(sys.stdin)
