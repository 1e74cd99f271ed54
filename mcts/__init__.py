"""Search cores: MCTS (PUCT), alpha-beta, the Connect Four solver, LLM minimax and the search budget."""
from mcts._ab_search import AlphaBeta, UnsupportedGameError
from mcts._c4solver import Connect4Solver, UnsolvableError
from mcts._c4solver import solve as solve_connect4
from mcts._c4solver import solve_moves as solve_connect4_moves
from mcts._evaluator import Evaluator, uniform_priors
from mcts._evaluators import RolloutEvaluator, UniformEvaluator
from mcts._limit import Limit, SearchResult
from mcts._llm_minimax import LLMBudget, LLMMinimax, heuristic_best
from mcts._puct import MCTS, EvaluatorOutputError
from mcts._score import Cp, Mate, Score, score_to_value
from mcts.budget import BudgetController, Deadlines, InfoRelay, compute_deadlines, run_with_budget

__all__ = [
    "AlphaBeta",
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
    "Limit",
    "MCTS",
    "Mate",
    "RolloutEvaluator",
    "Score",
    "SearchResult",
    "UniformEvaluator",
    "UnsolvableError",
    "UnsupportedGameError",
    "compute_deadlines",
    "heuristic_best",
    "run_with_budget",
    "score_to_value",
    "solve_connect4",
    "solve_connect4_moves",
    "uniform_priors",
]


def __getattr__(name: str):
    # the chess evaluator loads the chess board and python-chess: only when asked for
    if name == "ChessEvaluator":
        from mcts._chess_evaluator import ChessEvaluator
        return ChessEvaluator
    raise AttributeError(f"module 'mcts' has no attribute {name!r}")
