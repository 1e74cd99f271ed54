"""Search cores: MCTS (PUCT), alpha-beta, and the search budget."""
from mcts._evaluator import Evaluator, uniform_priors
from mcts._limit import Limit, SearchResult

__all__ = ["Evaluator", "Limit", "SearchResult", "uniform_priors"]
