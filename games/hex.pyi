"""Type stubs for ``games.hex``."""
from __future__ import annotations

from typing import Any

from games._cgame import _Game, _GameState

class HexState(_GameState):
    @property
    def board_size(self) -> int: ...

class HexGame(_Game[HexState]):
    board_size: int
    swap: bool
    params: dict[str, Any]
    num_actions: int
    max_game_length: int
    observation_shape: tuple[int, int, int]
    def __init__(self, *, board_size: int = 11, swap: bool = False) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
