"""Front ends: the Python game API, the CLI, UCI, tournaments and self-play."""
from engine._play import GameRecord, play_game
from engine._players import Decision, HumanPlayer, Player, RandomPlayer, SearchPlayer

__all__ = ["Decision", "GameRecord", "HumanPlayer", "Player", "RandomPlayer", "SearchPlayer", "play_game"]
from engine.uci import UciEngine  # noqa: E402
__all__ += ["UciEngine"]
from engine._llm_player import LLMPlayer  # noqa: E402
__all__ += ["LLMPlayer"]
from engine._tournament_runner import Adjudication, TournamentConfig, run_tournament  # noqa: E402
__all__ += ["Adjudication", "TournamentConfig", "run_tournament"]
