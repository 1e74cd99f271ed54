"""``plytree analyse``: search one position and print what the search found."""
from __future__ import annotations

import argparse
import math

HELP = "analyse a position: best move, value, principal variation and the top moves"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("game", help="game name: tictactoe, connect4, hex, chess, chess960")
    p.add_argument("position", nargs="?", default=None,
                   help="the position: FEN for chess, move string for the others (default: the start)")
    p.add_argument("--player", default="default",
                   help="the search, as for plytree play: default, mcts, alphabeta or kind=...,key=value")
    p.add_argument("--board-size", type=int, default=None, help="Hex board size (3-19, default 11)")
    p.add_argument("--simulations", type=int, default=None, help="MCTS simulations (default 800)")
    p.add_argument("--depth", type=int, default=None, help="alpha-beta depth")
    p.add_argument("--movetime", type=float, default=None, help="seconds (alpha-beta default 1.0)")
    p.add_argument("--top", type=int, default=10, help="how many moves to list (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--solve-time", type=float, default=1.0,
                   help="Hex up to 8x8: seconds the proof-number solver gets to prove the position (default 1.0; 0 skips it)")
    p.add_argument("--solver-threads", type=int, default=1,
                   help="Hex: threads of that solver (default 1; 2 or more use more cores on hard positions)")
    p.add_argument("--trace", default=None, help="write the search trace: FILE.json (JSON) or another name (linear text)")


def run(args: argparse.Namespace) -> int:
    import games
    from games import actions_to_strings
    from engine._factory import make_player
    from mcts import AlphaBeta, Limit

    if not (math.isfinite(args.solve_time) and args.solve_time >= 0):
        raise ValueError(f"--solve-time must be a finite number of seconds >= 0, got {args.solve_time}")
    if not 1 <= args.solver_threads <= 64:
        raise ValueError(f"--solver-threads must be in [1, 64], got {args.solver_threads}")
    params = {"board_size": args.board_size} if args.board_size else {}
    game = games.load(args.game, **params)
    state = game.deserialize(args.position) if args.position else game.new_initial_state()
    if state.is_terminal():
        raise ValueError(f"the position is over (returns {state.returns()}): nothing to analyse")
    player = make_player(args.player, game, seed=args.seed,
                         limit_defaults={"simulations": args.simulations or 800, "depth": args.depth,
                                         "movetime": args.movetime if args.depth is None else None})
    search = getattr(player, "search", None)
    if search is None:
        raise ValueError(f"player {args.player!r} does not search; use mcts, alphabeta or default")
    if args.depth is not None and not isinstance(search, AlphaBeta):
        raise ValueError(f"--depth limits alpha-beta only; {type(search).__name__} cannot honour it "
                         f"(use --simulations or --movetime, or --player alphabeta)")
    limit = player.default_limit
    overrides = {k: v for k, v in (("simulations", args.simulations), ("depth", args.depth), ("time", args.movetime)) if v is not None}
    if overrides:
        limit = Limit(**overrides)
    result = search.run(state, limit)
    print(state.to_text())
    print()
    move = state.action_to_string(result.best_action) if result.best_action >= 0 else "(none)"
    print(f"best move: {move}")
    value = f"{result.value:+.3f}"
    if result.is_proven:
        value += {1: " (proven win)", 0: " (proven draw)", -1: " (proven loss)"}.get(result.proven_value, "")
    if result.score is not None:
        value += f", score {result.score}"
    print(f"value for the side to move: {value}")
    if isinstance(search, AlphaBeta) and game.name.startswith("chess"):
        print(f"evaluation: {'network ' + search.eval_file if search.eval_file else 'hand-written'}")
    print(f"pv: {' '.join(actions_to_strings(state, result.pv)) or '-'}")
    if args.game == "hex" and args.solve_time > 0:
        from mcts import hex_proof_text  # the Hex solver's verdict, when it proves one in time
        proof = hex_proof_text(state, time_limit=args.solve_time, threads=args.solver_threads)
        if proof:
            print(proof)
    print(f"depth {result.depth}  nodes {result.nodes}  simulations {result.simulations}  "
          f"{result.seconds:.2f} s  {result.nps:,.0f} nodes/s  stopped by {result.stop_reason or '-'}")
    if result.visits:
        rows = sorted(zip(result.actions, result.visits, result.q_values, result.priors), key=lambda r: -r[1])
        print(f"\n{'move':>8} {'visits':>8} {'q':>7} {'prior':>7}")
        for action, visits, q, prior in rows[: args.top]:
            qtext = "    -" if math.isnan(q) else f"{q:+.3f}"
            print(f"{state.action_to_string(action):>8} {visits:>8} {qtext:>7} {prior:>7.3f}")
    if args.trace:
        from mcts.trace import game_trace, save_trace

        print(f"trace: {save_trace(game_trace(args.game, state, result), args.trace)}")
    return 0

