"""Front ends: the Python game API, players, UCI, tournaments, self-play and the CLI."""
from engine._llm_player import LLMPlayer
from engine._play import GameRecord, play_game
from engine._players import Decision, HumanPlayer, Player, RandomPlayer, SearchPlayer
from engine._tournament_runner import Adjudication, TournamentConfig, run_tournament

# the loop itself is engine.learn.learn (not re-exported: the name would hide the module engine.learn)
from engine.learn import LearnConfig, learn_supervised
from engine.selfplay import LockstepEvaluator, SelfPlayConfig, match, play_games
from engine.uci import UciEngine

__all__ = [
    "Adjudication",
    "Decision",
    "GameRecord",
    "HumanPlayer",
    "LLMPlayer",
    "LearnConfig",
    "LockstepEvaluator",
    "Player",
    "RandomPlayer",
    "SearchPlayer",
    "SelfPlayConfig",
    "TournamentConfig",
    "UciEngine",
    "learn_supervised",
    "match",
    "play_games",
    "play_game",
    "run_tournament",
]
