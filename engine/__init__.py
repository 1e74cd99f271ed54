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
# the loop itself is engine.learn.learn (not re-exported: the name would hide the module engine.learn)
from engine.learn import LearnConfig, learn_supervised  # noqa: E402
from engine.selfplay import LockstepEvaluator, SelfPlayConfig, match, play_games  # noqa: E402
__all__ += ["LearnConfig", "LockstepEvaluator", "SelfPlayConfig", "learn_supervised", "match", "play_games"]
