"""Search cores: MCTS (PUCT), alpha-beta, the Connect Four and Hex solvers, LLM minimax and the search budget."""
from mcts._ab_search import AlphaBeta
from mcts._agent_protocol import AgentBudget, AgentOracle, BudgetExhausted, Evaluation
from mcts._c4solver import Connect4Solver
from mcts._c4solver import solve as solve_connect4
from mcts._c4solver import solve_moves as solve_connect4_moves
from mcts._errors import EvaluatorOutputError, SearchError, UnsolvableError, UnsupportedGameError
from mcts._evaluator import Evaluator, uniform_priors
from mcts._evaluators import RolloutEvaluator, UniformEvaluator, random_playout_returns
from mcts._hex_dfpn import proof_text as hex_proof_text
from mcts._hex_dfpn import solve_hex
from mcts._limit import Limit, SearchResult, StopReason
from mcts._llm_budget import LLMBudget
from mcts._llm_minimax import LLMMinimax, heuristic_best
from mcts._llm_oracle import Oracle
from mcts._puct import MCTS
from mcts._score import CHESS_SCALE, Cp, Mate, Score, score_to_value, to_score, value_to_score
from mcts._solver_evaluator import SolverEvaluator
from mcts.budget import (BudgetController, Deadlines, InfoRelay, LatencyTracker, compute_deadlines, move_time,
                         run_with_budget)

__all__ = [
    "AgentBudget",
    "AgentOracle",
    "BudgetExhausted",
    "Evaluation",
    "AlphaBeta",
    "CHESS_SCALE",
    "BudgetController",
    "ChessEvaluator",
    "Connect4Solver",
    "Cp",
    "Deadlines",
    "Evaluator",
    "EvaluatorOutputError",
    "InfoRelay",
    "LLMBudget",
    "LLMMinimax",
    "LatencyTracker",
    "Limit",
    "MCTS",
    "Mate",
    "Oracle",
    "RolloutEvaluator",
    "Score",
    "SearchError",
    "SearchResult",
    "SolverEvaluator",
    "StopReason",
    "UniformEvaluator",
    "UnsolvableError",
    "UnsupportedGameError",
    "compute_deadlines",
    "heuristic_best",
    "hex_proof_text",
    "move_time",
    "random_playout_returns",
    "run_with_budget",
    "score_to_value",
    "to_score",
    "value_to_score",
    "solve_connect4",
    "solve_connect4_moves",
    "solve_hex",
    "uniform_priors",
]


def __getattr__(name: str):
    # the chess evaluator loads the chess board and python-chess: only when asked for
    if name == "ChessEvaluator":
        from mcts._chess_evaluator import ChessEvaluator
        return ChessEvaluator
    raise AttributeError(f"module 'mcts' has no attribute {name!r}")
