"""Type stubs for ``games.tictactoe``."""
from __future__ import annotations

from typing import ClassVar

from games._cgame import _Game, _GameState

class TicTacToeState(_GameState): ...

class TicTacToeGame(_Game[TicTacToeState]):
    num_actions: ClassVar[int]
    observation_shape: ClassVar[tuple[int, int, int]]
    max_game_length: ClassVar[int]
    def __init__(self) -> None: ...
