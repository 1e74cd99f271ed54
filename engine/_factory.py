"""Players for ``plytree play``, described as the tournament describes them.

A player is ``human``, ``default`` (the engine's strongest player for the game), a bare kind
(``random``, ``mcts``, ``alphabeta``) or a full tournament spec such as
``kind=mcts,simulations=2000`` (see ``engine/_tournament_players.py``).
"""
from __future__ import annotations

from typing import Any, Optional

from engine._players import HumanPlayer
from engine._tournament_players import LIMIT_KEYS, build_local_player, parse_player, spec_from_mapping


def default_spec(game) -> dict[str, Any]:
    """The engine's default player for ``game``: MCTS on the shipped network where one exists,
    alpha-beta for chess, else MCTS with random rollouts."""
    if game.name.startswith("chess"):
        return {"kind": "alphabeta", "movetime": 1.0}
    model = shipped_model(game)
    spec: dict[str, Any] = {"kind": "mcts", "simulations": 800}
    if model is not None:
        spec["model"] = model
    return spec


def make_player(text: str, game, *, seed: Optional[int] = None, name: Optional[str] = None,
                limit_defaults: Optional[dict[str, Any]] = None):
    """A player from its description; its ``default_limit`` is the per-move budget.

    Args:
        text: ``human``, ``default``, a kind, or ``key=value,...``.
        game: the game it plays.
        seed: seed for random choices.
        name: label (default: the kind).
        limit_defaults: limit keys (``simulations``, ``depth``, ``movetime``) used when the
            description gives none.

    Raises:
        ValueError: unknown kind or bad option (``PlayerSpecError``), or a model that does not fit.
    """
    if text.strip().lower() == "human":
        return HumanPlayer(name=name or "human")
    if text.strip().lower() == "default":
        items = default_spec(game)
    else:
        parsed = parse_player(text)
        items = dict(parsed.options, kind=parsed.kind, name=parsed.name, **{f"option.{k}": v for k, v in parsed.uci_options.items()})
    if not any(k in items for k in (*LIMIT_KEYS, "tc")):
        kind_keys = {"mcts": ("simulations",), "alphabeta": ("depth", "movetime")}.get(str(items["kind"]), ())
        for key in kind_keys:
            value = (limit_defaults or {}).get(key)
            if value is not None:
                items[key] = value
                break
    items["name"] = name or str(items.get("name", items["kind"]))
    spec = spec_from_mapping(items)
    player = build_local_player(spec, game, seed if seed is not None else 0)
    player.default_limit = spec.limit
    return player


def shipped_model(game) -> Optional[str]:
    """Path of the network shipped for ``game``, or None."""
    try:
        import models
    except ImportError:
        return None
    finder = getattr(models, "shipped_model", None)
    return finder(game) if finder is not None else None
