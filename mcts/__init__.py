"""Search cores: MCTS (PUCT), alpha-beta, the Connect Four and Hex solvers, LLM minimax and the search budget."""
from mcts._ab_search import AlphaBeta, UnsupportedGameError
from mcts._c4solver import Connect4Solver, UnsolvableError
from mcts._c4solver import solve as solve_connect4
from mcts._c4solver import solve_moves as solve_connect4_moves
from mcts._evaluator import Evaluator, uniform_priors
from mcts._hex_dfpn import solve_hex
from mcts._evaluators import RolloutEvaluator, UniformEvaluator
from mcts._limit import Limit, SearchResult
from mcts._llm_minimax import LLMBudget, LLMMinimax, heuristic_best
from mcts._puct import MCTS, EvaluatorOutputError
from mcts._solver_evaluator import SolverEvaluator
from mcts.budget import BudgetController, Deadlines, InfoRelay, compute_deadlines, run_with_budget

__all__ = [
    "AlphaBeta",
    "BudgetController",
    "Connect4Solver",
    "Deadlines",
    "Evaluator",
    "EvaluatorOutputError",
    "InfoRelay",
    "LLMBudget",
    "LLMMinimax",
    "Limit",
    "MCTS",
    "RolloutEvaluator",
    "SearchResult",
    "SolverEvaluator",
    "UniformEvaluator",
    "UnsolvableError",
    "UnsupportedGameError",
    "compute_deadlines",
    "heuristic_best",
    "run_with_budget",
    "solve_connect4",
    "solve_connect4_moves",
    "solve_hex",
    "uniform_priors",
]
