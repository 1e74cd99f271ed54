"""``plytree tournament``: round robins, gauntlets and SPRT matches between any players.

Without players it runs a short Connect Four round robin between the engine's default players and
prints the table. See docs/tournament.md.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from engine._tournament_config import TOML_KEYS, ConfigError, check_options, load_config

HELP = "run a tournament (round robin, gauntlet, SPRT match) between engine players and UCI engines"

DEFAULT_ROUNDS = 8  # game pairs per pairing in the no-argument round robin (about a minute on 2 cores)

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--player", action="append", default=[], metavar="SPEC",
                   help="a player: name=NAME,kind=mcts|alphabeta|random|uci|python,KEY=VALUE,... "
                        "(e.g. kind=uci,cmd=/usr/games/stockfish,option.UCI_Elo=1320,tc=10+0.1); repeat per player")
    p.add_argument("--config", metavar="FILE.toml", help="players ([[player]] tables) and options ([tournament])")
    p.add_argument("--each", metavar="KEY=VALUE,...", help="keys given to every player that does not set them "
                   "(e.g. tc=10+0.1 or simulations=400)")
    p.add_argument("--game", help="game name (default connect4)")
    p.add_argument("--board-size", type=int, help="Hex board size")
    p.add_argument("--format", choices=("roundrobin", "gauntlet"), help="default roundrobin")
    p.add_argument("--gauntlet-players", type=int, help="gauntlet: how many players at the front meet all others (default 1)")
    p.add_argument("--rounds", type=int, help="game pairs per pairing (default 2; 100 with --sprt)")
    p.add_argument("--openings", metavar="FILE|default|random|none",
                   help="EPD/PGN/text file, the shipped set (default), random balanced openings, or none")
    p.add_argument("--openings-count", type=int, help="random openings to generate (default 8)")
    p.add_argument("--openings-plies", type=int, help="random moves per random opening (default 4)")
    p.add_argument("--seed", type=int, help="schedule and player seed (default 1)")
    p.add_argument("--concurrency", type=int, help="games at once, in worker processes (default 1)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run games on Ray: 'local' (default) or a cluster address")
    p.add_argument("--out", metavar="DIR", help="output folder (default tournaments/<date-time>)")
    p.add_argument("--resume", action="store_true", help="continue the tournament saved in --out")
    p.add_argument("--resign", metavar="moves=N,score=S", help="resign adjudication (scores in [-1, 1])")
    p.add_argument("--draw", metavar="movenumber=M,moves=N,score=S", help="draw adjudication")
    p.add_argument("--max-moves", type=int, help="adjudicate a draw after this many plies")
    p.add_argument("--time-margin", type=float, help="seconds a move may overrun its clock before losing on time (default 0)")
    p.add_argument("--sprt", metavar="elo0=0,elo1=5,alpha=0.05,beta=0.05",
                   help="SPRT of the first player against the second; stops when it decides")
    p.add_argument("--event", help="event name in PGN and the report")
    p.add_argument("--max-games", type=int, help="stop after this many new games (resume later)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plot", action="store_true", help="no ratings.png")


def default_players(game_name: str) -> tuple[list[str], list[str]]:
    """The engine's default players for ``game_name`` and notes on those skipped."""
    specs: list[str] = []
    notes: list[str] = []
    model = None
    try:
        import models

        finder = getattr(models, "shipped_model", None)
        if finder is not None:
            import games

            model = finder(games.load(game_name))
    except Exception as exc:  # a missing or broken model package only costs the network player
        notes.append(f"no network player: {exc}")
    try:
        import mcts

        has_mcts, has_ab = hasattr(mcts, "MCTS"), hasattr(mcts, "AlphaBeta")
    except ImportError:
        has_mcts = has_ab = False
    if model is not None and has_mcts:
        specs.append(f"name=mcts-net,kind=mcts,model={model},simulations=800")
    elif not notes:
        notes.append(f"skipping mcts-net: no shipped network for {game_name} yet")
    if has_ab:
        specs.append("name=alphabeta,kind=alphabeta,depth=10")
    else:
        notes.append("skipping alphabeta: mcts.AlphaBeta is not built")
    if has_mcts:
        specs.append("name=mcts-rollout,kind=mcts,simulations=20000")
    else:
        notes.append("skipping mcts-rollout: mcts.MCTS is not built")
    specs.append("name=random,kind=random")
    return specs, notes


def _merged(args: argparse.Namespace) -> tuple[dict, list]:
    """Options (command line over TOML over defaults) and the raw player descriptions, checked.

    Raises:
        ConfigError: the configuration file or an option is malformed.
    """
    opts: dict[str, Any] = {}
    players: list = []
    if args.config:
        opts, players = load_config(args.config)
    given = {key: getattr(args, key) for key in TOML_KEYS if getattr(args, key, None) is not None}
    opts.update(check_options(given, "command line", prefix="--"))
    players = players + list(args.player)
    return opts, players


def _source(args: argparse.Namespace, key: str) -> str:
    """Where option ``key`` was given, ``"FILE: tournament.key"`` or ``"command line: --key"``."""
    if args.config and getattr(args, key, None) is None:
        return f"{args.config}: tournament.{key}"
    return f"command line: --{key.replace('_', '-')}"


def _tournament_config(args: argparse.Namespace, opts: dict, raw_players: list):
    """The ``TournamentConfig`` of checked options and raw player descriptions.

    Raises:
        ConfigError: the players or options do not make a tournament of the game.
    """
    import games

    from engine._tournament_players import PlayerSpecError, parse_player, parse_value, spec_from_mapping
    from engine._tournament_ratings import Sprt
    from engine._tournament_runner import Adjudication, TournamentConfig
    from engine._tournament_schedule import opening_set

    game_name = opts.get("game", "connect4")
    params = {"board_size": opts["board_size"]} if opts.get("board_size") else {}
    try:
        game = games.load(game_name, **params)
    except (ValueError, TypeError) as exc:  # a board size the game does not take
        raise ConfigError(f"{_source(args, 'board_size' if params else 'game')}: {exc}") from None
    if not raw_players:
        raw_players, notes = default_players(game.name)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        opts.setdefault("rounds", DEFAULT_ROUNDS)
    each = {}
    for part in filter(None, (t.strip() for t in str(opts.get("each", "")).split(","))):
        k, _, v = part.partition("=")
        each[k.strip()] = parse_value(v)
    specs = []
    for raw in raw_players:
        try:
            spec = parse_player(raw) if isinstance(raw, str) else spec_from_mapping(raw)
            merged = {k: v for k, v in each.items() if k not in spec.options and not _sets_limit(spec.options, k)}
            if merged:
                spec = type(spec)(spec.name, spec.kind, {**spec.options, **merged}, spec.uci_options)
        except PlayerSpecError as exc:
            where = "command line: --player" if isinstance(raw, str) else _source(args, "each")
            raise ConfigError(f"{where}: {exc}") from None
        specs.append(spec)
    if len(specs) < 2:
        raise ConfigError(f"{args.config or 'command line'}: player: a tournament needs at least 2 players, got {len(specs)}")
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{args.config or 'command line'}: player: names must be unique; repeated: {', '.join(repeated)}")
    seed = int(opts.get("seed", 1))
    sprt = Sprt.parse(opts["sprt"]) if opts.get("sprt") else None
    try:
        openings = opening_set(game, opts.get("openings", "default"), count=int(opts.get("openings_count", 8)),
                               plies=int(opts.get("openings_plies", 4)), seed=seed)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{_source(args, 'openings')}: {exc}") from None
    return TournamentConfig(
        game=game.name, game_params=params, players=tuple(specs), openings=tuple(openings),
        format=opts.get("format", "roundrobin"), rounds=int(opts.get("rounds", 100 if sprt else 2)),
        gauntlet_players=int(opts.get("gauntlet_players", 1)), seed=seed,
        adjudication=Adjudication.parse(opts.get("resign"), opts.get("draw"), opts.get("max_moves")),
        sprt=sprt, event=opts.get("event", "plytree tournament"), time_margin=float(opts.get("time_margin", 0.0)),
    )


def run(args: argparse.Namespace) -> int:
    """Runs the tournament; a malformed configuration is one ``error:`` line and exit status 2."""
    from engine._tournament_runner import run_tournament

    try:
        opts, raw_players = _merged(args)
        config = None
        if not (args.resume and not raw_players and not args.config):
            config = _tournament_config(args, opts, raw_players)
        elif not opts.get("out"):
            raise ConfigError("command line: --resume: needs --out DIR (the folder of the tournament to continue)")
    except ConfigError as exc:
        print(f"plytree tournament: error: {exc}", file=sys.stderr)
        return 2
    out = Path(opts.get("out") or Path("tournaments") / datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    concurrency = int(opts.get("concurrency", 1))
    print(f"output: {out}", file=sys.stderr)
    result = run_tournament(config, out, resume=args.resume, concurrency=concurrency, ray_address=opts.get("ray"),
                            progress=not args.no_progress, plot=not args.no_plot, max_games=args.max_games)
    print(result.report)
    return 0


def _sets_limit(options: dict, key: str) -> bool:
    """A player with its own limit keeps it: ``--each nodes=...`` does not add a second one."""
    limits = ("simulations", "nodes", "depth", "movetime", "tc")
    return key in limits and any(k in options for k in limits)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``plytree tournament`` alone (``python -m engine._cli_tournament``)."""
    parser = argparse.ArgumentParser(prog="plytree tournament", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    from engine.cli import run_guarded

    return run_guarded("tournament", run, args)


if __name__ == "__main__":
    sys.exit(main())
