"""``plytree learn``: the self-play loop (self-play, train, export, gate), the supervised
Connect Four recipe from exact-solver labels (``--supervised``), or the learned chess evaluation
(``plytree learn chess-eval --data DIR``: Stockfish-labelled positions, then the NNUE-style network)."""
from __future__ import annotations

import argparse
import json

HELP = ("train networks: the AlphaZero self-play loop, Connect Four from exact-solver labels (--supervised), "
        "or the chess evaluation network (chess-eval --data DIR)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("game", help="game name: connect4, hex, tictactoe; or chess-eval (the chess evaluation network)")
    p.add_argument("--run", default=None, help="run directory (created; an existing one is resumed); "
                   "chess-eval: where the trained networks and logs go")
    p.add_argument("--board-size", type=int, default=None, help="Hex board size")
    p.add_argument("--generations", type=int, default=5, help="generations to produce (default 5)")
    p.add_argument("--games", type=int, default=64, help="self-play games per generation (default 64)")
    p.add_argument("--simulations", type=int, default=100, help="MCTS simulations per self-play move (default 100)")
    p.add_argument("--parallel-games", type=int, default=16, help="games played in lockstep per worker (default 16)")
    p.add_argument("--search-batch", type=int, default=8, help="leaves per search per evaluator call (default 8)")
    p.add_argument("--temperature-moves", type=int, default=10, help="plies sampled from the visits (default 10)")
    p.add_argument("--value-mix", type=float, default=0.0,
                   help="weight of the search's root value in the value targets, the rest the game's outcome "
                   "(default 0: the outcome alone)")
    p.add_argument("--bootstrap", choices=("rollout", "network"), default="rollout",
                   help="who plays generation 0: MCTS with random rollouts (default) or the untrained net")
    p.add_argument("--bootstrap-games", type=int, default=None, help="games of the rollout bootstrap (default --games)")
    p.add_argument("--bootstrap-simulations", type=int, default=None,
                   help="simulations of the rollout bootstrap (default --simulations)")
    p.add_argument("--bootstrap-train-steps", type=int, default=None,
                   help="optimizer steps of the first candidate, trained on generation 0's games alone "
                   "(default --train-steps)")
    p.add_argument("--blocks", type=int, default=4, help="residual blocks (default 4)")
    p.add_argument("--channels", type=int, default=64, help="channels (default 64)")
    p.add_argument("--value-head", choices=("hlgauss", "wdl"), default="hlgauss")
    p.add_argument("--train-steps", type=int, default=None,
                   help="optimizer steps per generation (default 500; --supervised: 4000 in all)")
    p.add_argument("--batch-size", type=int, default=256, help="training batch (default 256)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    p.add_argument("--window", type=int, default=200_000, help="newest records trained on (default 200000)")
    p.add_argument("--gate-games", type=int, default=20, help="games of the gate match (default 20)")
    p.add_argument("--gate-threshold", type=float, default=0.55, help="score a candidate needs (default 0.55)")
    p.add_argument("--gate-simulations", type=int, default=100, help="simulations per move in the gate (default 100)")
    p.add_argument("--workers", type=int, default=1, help="self-play / labelling processes (default 1)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run self-play workers as Ray actors: 'local' or a cluster address")
    p.add_argument("--device", default="cpu", help="torch device for training (default cpu)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    sup = p.add_argument_group("supervised (connect4)")
    sup.add_argument("--supervised", action="store_true", help="train from exact-solver labels instead of self-play")
    sup.add_argument("--positions", type=int, default=100_000, help="positions to label (default 100000)")
    sup.add_argument("--label-time", type=float, default=None, help="stop labelling after this many seconds")
    sup.add_argument("--train-time", type=float, default=None, help="stop training after this many seconds")
    sup.add_argument("--min-moves", type=int, default=12, help="earliest ply of a labelled position (default 12)")
    sup.add_argument("--max-moves", type=int, default=36, help="latest ply (default 36)")
    sup.add_argument("--level", choices=("random", "play", "hard"), default="random",
                     help="connect4 --supervised: positions of random games (default), of decent play, or of decent "
                     "play where exactly one move keeps the value")
    sup.add_argument("--keep-rejected", action="store_true",
                     help="with --level hard: store the solved positions that are not hard too, as play labels "
                     "(they cost the same solve; --positions counts the hard ones)")
    sup.add_argument("--init", default=None, metavar="MODEL",
                     help="an ONNX export to fine-tune instead of training a fresh network: connect4 "
                     "--supervised (--train-steps 0 only labels), or hex --proofs (required; it also plays "
                     "the games)")
    sup.add_argument("--output", default=None, help="ONNX file to write (default RUN/onnx/supervised.onnx; "
                     "chess-eval: RUN/chess_nnue.onnx)")
    pf = p.add_argument_group("proofs (hex up to 8x8: fine-tune a network on solver-proven positions)")
    pf.add_argument("--proofs", action="store_true", help="play games with --init, label the positions the Hex solver "
                    "proves, fine-tune --init on them (engine/_hex_proof_data.py)")
    pf.add_argument("--proof-nodes", type=int, default=20_000, help="solver positions per labelled position (default 20000)")
    pf.add_argument("--min-stones", type=int, default=2, help="fewest stones of a labelled position (default 2)")
    pf.add_argument("--proof-play", type=float, default=0.0, metavar="P",
                    help="chance that a player the solver proves won (within --proof-nodes / 10 positions) plays "
                    "the proof's move instead of the search's (default 0: the search always)")
    ce = p.add_argument_group("chess-eval (the learned chess evaluation)")
    ce.add_argument("--data", default=None, help="shard directory of labelled positions (created; existing shards are "
                    "kept); training reads also the directories of --extra-data")
    ce.add_argument("--extra-data", nargs="*", default=[], metavar="DIR",
                    help="more shard directories to train on (each with its own held-out tail)")
    ce.add_argument("--label", default="eval", metavar="eval|nodes:N|depth:N",
                    help="Stockfish's label: its static evaluation (eval, default: ~0.1 ms a position), "
                    "or a search of N nodes or N plies")
    ce.add_argument("--label-nodes", type=int, default=None, help="same as --label nodes:N")
    ce.add_argument("--positions-per-game", type=int, default=10,
                    help="quiet positions drawn from each game (default 10; 0: all)")
    ce.add_argument("--shard-size", type=int, default=4096, help="positions per shard (default 4096)")
    ce.add_argument("--openings", default=None, help="FEN file of openings (default ../shared/data/chess/epd/chessathome_openings.fen)")
    ce.add_argument("--stockfish", default=None, help="Stockfish binary (default: stockfish on PATH or /usr/games/stockfish)")
    ce.add_argument("--no-train", action="store_true", help="only make data")
    ce.add_argument("--target", choices=("hlgauss", "sigmoid", "both"), default="both",
                    help="value target: HL-Gauss over win-probability bins, sigmoid-of-centipawns cross-entropy, "
                    "or both (trained alike, the one with the lower held-out error is exported; default)")
    ce.add_argument("--hidden", type=int, default=128, help="accumulator units per perspective (default 128)")
    ce.add_argument("--result-weight", type=float, default=0.1,
                    help="weight of the game result in the target (the rest: Stockfish's score; default 0.1)")


def run(args: argparse.Namespace) -> int:
    from engine.learn import LearnConfig, learn, learn_supervised
    from engine.selfplay import SelfPlayConfig
    from models.train import TrainConfig

    if args.game == "chess-eval":
        return _run_chess_eval(args)
    if args.run is None:
        raise ValueError("--run is required (the run directory)")
    if args.proofs:
        return _run_proofs(args)
    if args.supervised:
        if args.game != "connect4":
            raise ValueError(f"--supervised needs the exact solver, which exists for connect4 only, not {args.game!r}")
        steps = args.train_steps if args.train_steps is not None else 4000
        entry = learn_supervised(
            args.run, positions=args.positions, workers=args.workers, blocks=args.blocks, channels=args.channels,
            train=TrainConfig(steps=steps, batch_size=args.batch_size, learning_rate=args.lr, device=args.device,
                              seed=args.seed, threads=args.threads),
            min_moves=args.min_moves, max_moves=args.max_moves, label_time=args.label_time,
            train_time=args.train_time, seed=args.seed, progress_bars=not args.no_progress, output=args.output,
            level=args.level, init=args.init, keep_rejected=args.keep_rejected)
        print(json.dumps(entry))
        return 0
    params = {"board_size": args.board_size} if args.board_size else {}
    cfg = LearnConfig(
        game=args.game, game_params=params, generations=args.generations, games_per_generation=args.games,
        selfplay=SelfPlayConfig(simulations=args.simulations, parallel_games=args.parallel_games,
                                batch_size=args.search_batch, temperature_moves=args.temperature_moves, seed=args.seed,
                                value_mix=args.value_mix),
        bootstrap=args.bootstrap, bootstrap_games=args.bootstrap_games,
        bootstrap_simulations=args.bootstrap_simulations, bootstrap_train_steps=args.bootstrap_train_steps,
        blocks=args.blocks, channels=args.channels, value_head=args.value_head,
        train_steps=args.train_steps if args.train_steps is not None else 500, batch_size=args.batch_size, learning_rate=args.lr, window=args.window,
        gate_games=args.gate_games, gate_threshold=args.gate_threshold, gate_simulations=args.gate_simulations,
        workers=args.workers, ray=args.ray, device=args.device, seed=args.seed, threads=args.threads)
    state = learn(args.run, cfg, progress_bars=not args.no_progress)
    print(json.dumps(state))
    return 0


def _run_proofs(args: argparse.Namespace) -> int:
    from engine._hex_proof_data import ProofLabelConfig, ProofRecipeError, learn_from_proofs

    if args.game != "hex":
        raise ProofRecipeError(f"--proofs needs the Hex solver: game hex, not {args.game!r}")
    if args.init is None:
        raise ProofRecipeError("--proofs needs --init FILE.onnx (the network to start from)")
    if args.proof_nodes < 1 or args.min_stones < 0:
        raise ProofRecipeError("--proof-nodes must be positive and --min-stones non-negative")
    if not 0.0 <= args.proof_play <= 1.0:
        raise ProofRecipeError(f"--proof-play is a chance in [0, 1], not {args.proof_play}")
    cfg = ProofLabelConfig(simulations=args.simulations, max_nodes=args.proof_nodes, min_stones=args.min_stones,
                           seed=args.seed, proof_play=args.proof_play, proof_play_nodes=max(1, args.proof_nodes // 10))
    summary = learn_from_proofs(args.run, init=args.init, board_size=args.board_size or 7, games_total=args.games,
                                cfg=cfg, steps=args.train_steps if args.train_steps is not None else 2000,
                                batch_size=args.batch_size, learning_rate=args.lr, label_time=args.label_time,
                                train_time=args.train_time, threads=args.threads or 1, output=args.output,
                                log=lambda line: print(line, flush=True))
    print(json.dumps(summary))
    return 0


def _run_chess_eval(args: argparse.Namespace) -> int:
    from engine._chess_eval_data import DataConfig, generate

    if args.data is None:
        raise ValueError("chess-eval needs --data DIR (the shard directory)")
    label = f"nodes:{args.label_nodes}" if args.label_nodes is not None else args.label
    cfg = DataConfig(positions_per_shard=args.shard_size, label=label, positions_per_game=args.positions_per_game,
                     openings=args.openings, stockfish=args.stockfish)
    report: dict = {"data": generate(args.data, args.positions, workers=args.workers, cfg=cfg,
                                     time_limit=args.label_time, progress_bar=not args.no_progress)}
    print(json.dumps(report["data"]), flush=True)
    if args.no_train:
        return 0
    from models.chess_nnue import TrainSettings, train_and_export

    if args.run is None:
        raise ValueError("chess-eval training needs --run DIR (or --no-train)")
    steps = args.train_steps if args.train_steps is not None else 4000
    settings = TrainSettings(steps=steps, eval_every=max(250, steps // 40),
                             batch_size=args.batch_size if args.batch_size != 256 else 1024,
                             learning_rate=args.lr, hidden=args.hidden, result_weight=args.result_weight,
                             seed=args.seed, threads=args.threads, time_limit=args.train_time)
    report["train"] = train_and_export([*args.extra_data, args.data], args.run, settings, target=args.target, output=args.output,
                                       progress_bar=not args.no_progress)
    print(json.dumps(report["train"]))
    return 0
