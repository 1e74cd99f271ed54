"""Type stubs for ``games.connect4``."""
from __future__ import annotations

from typing import ClassVar

from games._cgame import _Game, _GameState

class Connect4State(_GameState): ...

class Connect4Game(_Game[Connect4State]):
    num_actions: ClassVar[int]
    observation_shape: ClassVar[tuple[int, int, int]]
    max_game_length: ClassVar[int]
    def __init__(self) -> None: ...
