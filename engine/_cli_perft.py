"""``plytree perft``: count move-tree leaves of a chess or Chess960 position (move generator check)."""
from __future__ import annotations

import argparse
import time

HELP = "count the leaves of the chess move tree to a depth (perft), optionally split by first move"
BACKENDS = ("bitboard", "adapter", "python-chess")


def add_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--fen", help="start position as FEN (default: the standard start)")
    where.add_argument("--chess960", type=int, metavar="N", help="Chess960 start position number 0..959")
    p.add_argument("--variant", choices=("chess", "chess960"), default="chess",
                   help="rules for --fen: chess960 reads Shredder/X-FEN castling and writes castling "
                        "king-takes-rook (default: chess)")
    p.add_argument("--divide", action="store_true", help="print each first move's count (as Stockfish's go perft)")
    p.add_argument("--backend", choices=BACKENDS, default="bitboard",
                   help="bitboard: the C board, bulk counted (default, fastest); adapter: through the game "
                        "protocol and action encoding; python-chess: its move generator directly")
    p.add_argument("depth", type=int, help="plies to search (>= 1)")


def run(args: argparse.Namespace) -> int:
    from games.chess import Chess960Game, ChessGame
    from games.perft import (divide, divide_bitboard, divide_python_chess, perft, perft_bitboard,
                             perft_python_chess)

    if args.depth < 1:
        raise ValueError(f"perft depth must be >= 1, got {args.depth}")
    if args.chess960 is not None:
        state = Chess960Game().new_initial_state(args.chess960)
    elif args.fen is not None:
        state = (Chess960Game() if args.variant == "chess960" else ChessGame()).deserialize(args.fen)
    else:
        state = ChessGame().new_initial_state()
    print(f"position: {state.serialize()}")
    count = {"bitboard": perft_bitboard, "adapter": perft, "python-chess": perft_python_chess}[args.backend]
    split = {"bitboard": divide_bitboard, "adapter": divide, "python-chess": divide_python_chess}[args.backend]

    t0 = time.perf_counter()
    if args.divide:
        rows = split(state, args.depth)
        nodes = sum(n for _, n in rows)
        seconds = time.perf_counter() - t0
        for text, n in rows:
            print(f"{text}: {n}")
        print()
    else:
        nodes = count(state, args.depth)
        seconds = time.perf_counter() - t0
    print(f"Nodes searched: {nodes}")
    print(f"time: {seconds:.3f} s")
    print(f"nps: {nodes / max(seconds, 1e-9):.0f}")
    return 0
