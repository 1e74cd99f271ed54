"""``plytree analysis``: the JSON analysis protocol on stdin/stdout (see ``engine/analysis.py``)."""
from __future__ import annotations

import argparse

HELP = "JSON analysis engine: one query per line on stdin, one response per line on stdout"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=2,
                   help="queries searched at once (default 2); more queries wait in line")


def run(args: argparse.Namespace) -> int:
    import sys

    from engine.analysis import serve_lines

    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    # bytes in: a line that is not UTF-8 becomes an error response, not a crash of the reader
    return serve_lines(sys.stdin.buffer, sys.stdout, threads=args.threads)
