"""The networks shipped in ``models/zoo/`` and the lookup the engine's default player uses."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

ZOO = Path(__file__).resolve().parent / "zoo"

# (game name, frozen game parameters) -> file in models/zoo; each file has a model card beside it (.md)
_SHIPPED: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {
    ("connect4", ()): "connect4.onnx",
    ("hex", (("board_size", 7), ("swap", False))): "hex7.onnx",
    ("hex", (("board_size", 9), ("swap", False))): "hex9.onnx",
}


def _params_key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


def shipped_model(game: Any, **params: Any) -> Optional[str]:
    """Path of the network shipped for a game, or None when there is none.

    Args:
        game: a game object (its ``name`` and ``params`` are used) or a game name.
        **params: game parameters when ``game`` is a name (``board_size=7`` for Hex); missing ones
            take the game's defaults.

    Returns:
        The ONNX file's path as a string, or None.
    """
    if isinstance(game, str):
        import games

        game = games.load(game, **params)
    name = str(getattr(game, "name", ""))
    key = (name, _params_key(dict(getattr(game, "params", {}) or {})))
    filename = _SHIPPED.get(key)
    if filename is None:
        return None
    path = ZOO / filename
    return str(path) if path.is_file() else None
