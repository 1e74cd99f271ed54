"""``plytree play``: two players on any game, the board printed after each move."""
from __future__ import annotations

import argparse

HELP = "play a game between two players (random, human, mcts, alphabeta), printing the board"

PLAYER_KINDS = ("human", "default", "random", "mcts", "alphabeta")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("game", help="game name: tictactoe, connect4, hex, chess, chess960, or openspiel:<name>[(k=v,...)]")
    p.add_argument("players", nargs="*", default=None, metavar="PLAYER",
                   help=f"two players, first to move first: {', '.join(PLAYER_KINDS)}, or a tournament "
                        "spec such as kind=mcts,simulations=2000 (default: human against the engine's "
                        "default player)")
    p.add_argument("--board-size", type=int, default=None, help="Hex board size (3-19, default 11)")
    p.add_argument("--simulations", type=int, default=800, help="MCTS simulations per move (default 800)")
    p.add_argument("--depth", type=int, default=None, help="alpha-beta depth per move (default: --movetime)")
    p.add_argument("--movetime", type=float, default=1.0, help="alpha-beta seconds per move (default 1.0)")
    p.add_argument("--start", default=None, help="start position (FEN for chess, move string for others)")
    p.add_argument("--seed", type=int, default=None, help="seed for random players and MCTS")
    p.add_argument("--quiet", action="store_true", help="print only the result")


def run(args: argparse.Namespace) -> int:
    import games
    from engine._factory import make_player
    from engine._play import play_game

    params = {"board_size": args.board_size} if args.board_size else {}
    game = games.load(args.game, **params)
    kinds = list(args.players or ["human", "default"])
    if len(kinds) != 2:
        raise ValueError(f"give two players, got {len(kinds)}: {' '.join(kinds)}")
    defaults = {"simulations": args.simulations, "depth": args.depth,
                "movetime": None if args.depth is not None else args.movetime}
    players = [
        make_player(kind, game, seed=None if args.seed is None else args.seed + i, limit_defaults=defaults)
        for i, kind in enumerate(kinds)
    ]
    if players[0].name == players[1].name:
        for i, p in enumerate(players):
            p.name = f"{p.name}{i + 1}"
    limits = [p.default_limit for p in players]

    def show(state, action, decision) -> None:
        if args.quiet:
            return
        print(f"\n{state.to_text()}\n", flush=True)

    if not args.quiet:
        start = game.deserialize(args.start) if args.start else game.new_initial_state()
        print(start.to_text(), flush=True)
    record = play_game(game, players, opening=args.start, limits=limits, on_move=show)
    if record.winner is None:
        outcome = "draw"
    else:
        outcome = f"{record.players[record.winner]} (seat {record.winner + 1}) wins"
    print(f"result: {outcome} ({record.reason}) after {len(record.actions)} moves: {' '.join(record.moves)}")
    return 0
