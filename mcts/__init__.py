"""Search cores: MCTS (PUCT), alpha-beta, and the search budget."""
from mcts._evaluator import Evaluator, uniform_priors
from mcts._limit import Limit, SearchResult

__all__ = ["Evaluator", "Limit", "SearchResult", "uniform_priors"]
from mcts.budget import BudgetController, Deadlines, InfoRelay, compute_deadlines, run_with_budget  # noqa: E402
__all__ += ["BudgetController", "Deadlines", "InfoRelay", "compute_deadlines", "run_with_budget"]
from mcts._puct import MCTS, EvaluatorOutputError  # noqa: E402
from mcts._evaluators import RolloutEvaluator, UniformEvaluator  # noqa: E402
__all__ += ["EvaluatorOutputError", "MCTS", "RolloutEvaluator", "UniformEvaluator"]
from mcts._ab_search import AlphaBeta, UnsupportedGameError  # noqa: E402
from mcts._c4solver import Connect4Solver, UnsolvableError, solve as solve_connect4, solve_moves as solve_connect4_moves  # noqa: E402
__all__ += ["AlphaBeta", "Connect4Solver", "UnsolvableError", "UnsupportedGameError", "solve_connect4", "solve_connect4_moves"]
from mcts._llm_minimax import LLMBudget, LLMMinimax, heuristic_best  # noqa: E402
__all__ += ["LLMBudget", "LLMMinimax", "heuristic_best"]
