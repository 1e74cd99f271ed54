"""``plytree``: the one command-line entry point, with one subcommand per job.

Each subcommand lives in its own module ``engine/_cli_<name>.py`` that defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Heavy imports belong inside ``run`` so that
``plytree --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Optional, Sequence

# subcommand -> module; the order is the order of --help
COMMANDS: dict[str, str] = {
    "play": "engine._cli_play",
    "analyse": "engine._cli_analyse",
    "perft": "engine._cli_perft",
    "uci": "engine._cli_uci",
    "tournament": "engine._cli_tournament",
    "learn": "engine._cli_learn",
    "analysis": "engine._cli_analysis",
    "serve": "engine._cli_serve",
    "agent": "engine._cli_agent",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plytree",
        description="plytree: MCTS and alpha-beta game engine (UCI, Python API, self-play).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.error(f"a COMMAND is required: {', '.join(COMMANDS)} (see plytree --help)")
    return run_guarded(args.command, args._run, args)


def run_guarded(command: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Runs a subcommand; bad input and engine faults become one ``error:`` line and exit code 1."""
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"plytree {command}: error: {exc}", file=sys.stderr)
        return 1

if __name__ == "__main__":
    sys.exit(main())
