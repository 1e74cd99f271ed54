"""Hex positions labelled by the proof-number solver: the ``--proofs`` recipe of ``plytree learn hex``.

Games come from MCTS on a network after a first move that cycles through every cell (Dirichlet
noise, the first plies sampled from the visits); with ``proof_play`` a player the solver proves won
plays the proof's move instead, at that chance per move, so the games also follow the winning lines
a search must find and the losing side's best tries against them. Each game's positions are then given to the solver from the last to the
first (``mcts.SolverEvaluator.prove``, one table for the whole run, so a position reuses the proofs of the positions
after it) with a budget of ``max_nodes`` positions; the walk back stops after ``misses`` positions
in a row stay unproven. A proven position is a record: value target its exact value for the player
to move; policy target the proof's winning move when won, the search's visits when lost. Positions
with fewer than ``min_stones`` stones (by default the empty board and the 1-stone openings, which
the judgement benchmark ``bench/bench_hex_openings.py`` tests) are never labelled.

The network starts from an ONNX file (``models.resnet_from_onnx``: the exported graph has its batch
norms folded into the convolutions, so they come back as identity normalisations, kept frozen while
it is fine-tuned: ``fine_tune``).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

import games
from models.train import Records, ReplayBuffer, augment


class ProofRecipeError(ValueError):
    """Settings of the proof recipe that cannot be used."""


@dataclass(frozen=True)
class ProofLabelConfig:
    """How games are played and labelled.

    Attributes:
        simulations: MCTS simulations per self-play move.
        max_nodes: solver positions per labelled position.
        min_stones: positions with fewer stones are not labelled.
        misses: the walk back through a game stops after this many unproven positions in a row.
        games_per_chunk: games per shard.
        temperature_moves: plies sampled from the visits (later: the most visited move).
        seed: seeds the games.
        proof_play: chance that a player whose position the solver proves won (within
            ``proof_play_nodes`` positions) plays the proof's move instead of the search's: the
            games then follow the winning lines that a search has to find (0: the search always).
        proof_play_nodes: solver positions per move for ``proof_play``.
    """

    simulations: int = 100
    max_nodes: int = 20_000
    min_stones: int = 2
    misses: int = 2
    games_per_chunk: int = 49
    temperature_moves: int = 8
    seed: int = 0
    proof_play: float = 0.0
    proof_play_nodes: int = 20_000


def label_game(game: Any, history: list[int], records: Records, solver: Any, cfg: ProofLabelConfig) -> Records:
    """The proven positions of one game (``records[i]`` is the position after ``history[:i]``;
    ``solver``: a ``mcts.SolverEvaluator``, whose table the proofs go through)."""
    states = [game.new_initial_state()]
    for action in history[:-1]:
        nxt = states[-1].clone()
        nxt.apply_action(action)
        states.append(nxt)
    keep: list[int] = []
    values: list[float] = []
    policies: list[np.ndarray] = []
    misses = 0
    for i in range(len(states) - 1, -1, -1):
        if i < cfg.min_stones or misses >= cfg.misses:
            break
        verdict, line = solver.prove(states[i], max_nodes=cfg.max_nodes, pv_length=1) or (0, ())
        if verdict == 0:
            misses += 1
            continue
        misses = 0
        policy = records.policies[i].copy()
        if verdict == 1:
            policy[:] = 0.0
            policy[line[0]] = 1.0
        keep.append(i)
        values.append(float(verdict))
        policies.append(policy)
    idx = np.asarray(keep, dtype=np.int64)
    return Records(records.observations[idx], np.asarray(policies, dtype=np.float32).reshape(len(keep), -1),
                   np.asarray(values, dtype=np.float32), records.legal[idx], records.generation[idx])


def play_game(game: Any, evaluator: Any, opening: int, cfg: ProofLabelConfig, rng: np.random.Generator,
              solver: Any = None) -> tuple[list[int], Records]:
    """One game of MCTS on ``evaluator`` after black's first move ``opening`` (Dirichlet noise at the
    root, the first ``cfg.temperature_moves`` plies sampled from the visits). With ``cfg.proof_play``
    and a ``solver`` (``mcts.SolverEvaluator``), a player whose position the solver proves won plays
    the proof's move with that chance (its record's policy: the searched visits, as for any move).

    Returns:
        The moves and one record per position (values: the game's result for the mover).
    """
    import mcts
    from engine.selfplay import SelfPlayConfig, _choose, _visit_policy, default_alpha

    sp = SelfPlayConfig(simulations=cfg.simulations, temperature_moves=cfg.temperature_moves)
    search = mcts.MCTS(game, evaluator, seed=int(rng.integers(2**31)), dirichlet_alpha=default_alpha(game))
    limit = mcts.Limit(simulations=cfg.simulations)
    state = game.new_initial_state()
    obs, pol, leg, movers = [], [], [], []
    ply = 0
    while not state.is_terminal():
        legal = np.zeros(game.num_actions, dtype=bool)
        legal[state.legal_actions()] = True
        obs.append(state.observation())
        leg.append(legal)
        movers.append(int(state.current_player()))
        if ply == 0:
            policy = np.zeros(game.num_actions, dtype=np.float32)
            policy[opening] = 1.0
            action = opening
        else:
            result = search.run(state, limit)
            policy = _visit_policy(result, game.num_actions)
            action = _choose(result, ply, sp, rng)
            if solver is not None and cfg.proof_play > 0 and rng.random() < cfg.proof_play:
                verdict, line = solver.prove(state, max_nodes=cfg.proof_play_nodes, pv_length=1) or (0, ())
                if verdict == 1:
                    action = line[0]
        pol.append(policy)
        state.apply_action(action)
        ply += 1
    returns = state.returns()
    return list(state.history()), Records.from_lists(obs, pol, [returns[m] for m in movers], leg, generation=0)


def make_proof_data(buffer: ReplayBuffer, model: str, board_size: int, cfg: ProofLabelConfig, *, games_total: int,
                    time_limit: Optional[float] = None, progress: Optional[Callable[[dict[str, Any]], None]] = None,
                    threads: int = 1) -> dict[str, Any]:
    """Plays and labels games in chunks until ``games_total`` games or ``time_limit`` seconds; one
    shard (rotations included) per chunk in ``buffer``. Game ``k`` opens with black on cell
    ``k mod cells`` (shifted by the games already in ``buffer``), so every opening gets its games.

    Returns:
        ``{"games", "positions", "proven", "seconds"}`` of this call.
    """
    import mcts
    import models

    if board_size > 8:
        raise ProofRecipeError(f"the Hex solver takes boards up to 8x8, not {board_size}x{board_size}")
    game = games.load("hex", board_size=board_size)
    evaluator = models.OnnxEvaluator(model, game=game, intra_op_threads=threads)
    solver = mcts.SolverEvaluator(mcts.UniformEvaluator())   # its table, shared by the whole run
    first = len(buffer.shards()) * cfg.games_per_chunk
    rng = np.random.default_rng([cfg.seed, first])
    start = time.perf_counter()
    played = positions = proven = 0
    while played < games_total and (time_limit is None or time.perf_counter() - start < time_limit):
        parts = []
        for _ in range(min(cfg.games_per_chunk, games_total - played)):
            history, records = play_game(game, evaluator, (first + played) % game.num_actions, cfg, rng, solver)
            positions += len(records)
            rec = label_game(game, history, records, solver, cfg)
            proven += len(rec)
            if len(rec):
                parts.append(rec)
            played += 1
        if parts:
            buffer.add(augment(Records.concatenate(parts), "hex"), prefix="proofs")
        if progress is not None:
            progress({"games": played, "positions": positions, "proven": proven,
                      "seconds": round(time.perf_counter() - start, 1)})
    return {"games": played, "positions": positions, "proven": proven, "seconds": round(time.perf_counter() - start, 1)}


def fine_tune(net: Any, records: Records, *, steps: int, batch_size: int = 256, learning_rate: float = 5e-4,
              seed: int = 0, time_limit: Optional[float] = None,
              progress: Optional[Callable[[int, dict[str, float]], None]] = None) -> dict[str, Any]:
    """``models.train.train_network`` on a network imported by ``models.resnet_from_onnx`` (a
    ``FoldedResNet``: its batch norms stay in eval mode, so the folded normalisations stay exact).

    Returns:
        ``{"steps", "policy_loss", "value_loss", "seconds"}`` (losses: mean over the last 10% of steps).
    """
    from models.train import TrainConfig, train_network

    if len(records) == 0:
        raise ProofRecipeError("no proven positions to train on")
    config = TrainConfig(steps=steps, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    report = train_network(net, records, config, progress=progress, time_limit=time_limit)
    net.eval()
    return {"steps": report.steps, "policy_loss": report.policy_loss, "value_loss": report.value_loss,
            "seconds": round(report.seconds, 1)}


def learn_from_proofs(run_dir: str, *, init: str, board_size: int, games_total: int, cfg: ProofLabelConfig,
                      steps: int, batch_size: int = 256, learning_rate: float = 5e-4, label_time: Optional[float] = None,
                      train_time: Optional[float] = None, threads: int = 1, output: Optional[str] = None,
                      log: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole recipe: play and label (resumable: shards already in ``run/buffer`` count), fine-tune
    the network of ``init`` on every proven position, export ``output`` (default ``run/proofs.onnx``).

    Returns:
        A summary: the data and training reports and the ONNX path.
    """
    import torch

    import models

    if threads:
        torch.set_num_threads(threads)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    buffer = ReplayBuffer(run / "buffer")
    data = make_proof_data(buffer, init, board_size, cfg, games_total=games_total, time_limit=label_time,
                           progress=lambda p: log(f"labels: {json.dumps(p)}"), threads=threads)
    records = buffer.load()
    game = games.load("hex", board_size=board_size)
    net = models.resnet_from_onnx(init)
    if net.game_name != game.name or net.spec["num_actions"] != game.num_actions:
        raise ProofRecipeError(f"{init} is a network for {net.game_name} with {net.spec['num_actions']} actions, "
                               f"not Hex {board_size}x{board_size}")
    report = fine_tune(net, records, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                       seed=cfg.seed, time_limit=train_time,
                       progress=lambda s, p: log(f"step {s}: {json.dumps(p)}") if s % 250 == 0 else None)
    onnx = Path(output) if output else run / "proofs.onnx"
    models.export(net, game, onnx, extra_metadata={"recipe": f"solver proofs, from {Path(init).name}"})
    summary = {"data": data, "records": len(records), "train": report, "onnx": str(onnx)}
    (run / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
