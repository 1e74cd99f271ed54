"""Prompt templates kept in files: ``<game>_<kind>.txt`` with ``default_<kind>.txt`` as fallback.

A file holds the system message, a line ``---``, then the user message (without ``---`` the whole file
is the user message). Fields in braces are filled from the state: ``{game}``, ``{board}`` (the state's
``to_text()``), ``{player}``, ``{legal}`` (legal moves in the game's notation), ``{history}``, plus any
the caller passes (``{numbers}`` for the Game of 24). Unknown fields are left as written.

Templates are looked up, in order, in: directories passed to ``PromptSet``, ``$PLYTREE_LLM_PROMPTS``
(``os.pathsep``-separated), and ``models/llm/prompts``; ``overrides`` maps a kind to a template text.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

PROMPT_DIR = Path(__file__).with_name("prompts")

_PLAYER_NAMES = {"chess": ("White", "Black"), "chess960": ("White", "Black")}
_GAME_TITLES = {"connect4": "Connect Four", "tictactoe": "tic-tac-toe", "hex": "Hex", "chess": "chess",
                "chess960": "Chess960"}


class PromptError(ValueError):
    """A prompt template is missing or malformed."""


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def game_key(game) -> str:
    """The short name prompts are filed under (``games.load`` name, e.g. ``"connect4"``)."""
    name = str(getattr(game, "name", "") or type(game).__name__).lower()
    return {"connect4game": "connect4", "connect_four": "connect4", "hexgame": "hex", "chessgame": "chess",
            "tictactoegame": "tictactoe", "tic_tac_toe": "tictactoe"}.get(name, name)


def player_name(game, player: int) -> str:
    """How prompts name a player: ``x``/``o`` for the board games, White/Black for chess."""
    names = _PLAYER_NAMES.get(game_key(game), ("x", "o"))
    return names[player] if 0 <= player < len(names) else f"player {player + 1}"


class PromptSet:
    """The prompts of one game.

    Args:
        game: the game (its ``name`` picks the files) or a name.
        directories: extra directories searched before ``$PLYTREE_LLM_PROMPTS`` and the built-ins.
        overrides: ``kind -> template text`` (kinds: ``"policy"``, ``"value"``, ``"propose"``, ...).
    """

    def __init__(self, game, *, directories: Sequence[str | os.PathLike] = (),
                 overrides: Mapping[str, str] | None = None) -> None:
        self.game = game
        self.key = game if isinstance(game, str) else game_key(game)
        env = [p for p in os.environ.get("PLYTREE_LLM_PROMPTS", "").split(os.pathsep) if p]
        self.directories = [Path(d) for d in (*directories, *env)] + [PROMPT_DIR]
        self.overrides = dict(overrides or {})
        self._cache: dict[str, tuple[str, str]] = {}

    def template(self, kind: str) -> tuple[str, str]:
        """``(system, user)`` template texts for ``kind``.

        Raises:
            PromptError: no file for this game or the default.
        """
        if kind in self._cache:
            return self._cache[kind]
        text = self.overrides.get(kind)
        if text is None:
            for name in (f"{self.key}_{kind}.txt", f"default_{kind}.txt"):
                found = next((d / name for d in self.directories if (d / name).is_file()), None)
                if found is not None:
                    text = found.read_text(encoding="utf-8")
                    break
        if text is None:
            raise PromptError(f"no prompt template {kind!r} for game {self.key!r} in {[str(d) for d in self.directories]}")
        if "\n---\n" in text:
            system, user = text.split("\n---\n", 1)
        else:
            system, user = "", text
        self._cache[kind] = (system.strip(), user.rstrip("\n"))
        return self._cache[kind]

    def fields(self, state) -> dict[str, str]:
        """The template fields of a game state."""
        player = state.current_player()
        legal = state.legal_actions() if not state.is_terminal() else []
        hist = state.history() if callable(getattr(state, "history", None)) else []
        title = _GAME_TITLES.get(self.key, self.key)
        return {
            "game": title,
            "board": state.to_text().rstrip(),
            "player": player_name(getattr(state, "game", self.key), player),
            "legal": ", ".join(state.action_to_string(a) for a in legal),
            "history": " ".join(str(h) for h in hist) or "(none)",
        }

    def render(self, kind: str, backend, state=None, **extra: str) -> str:
        """The full prompt of ``kind`` for ``state`` (or just ``extra`` fields), formatted by ``backend``."""
        system, user = self.template(kind)
        fields = _Fields(self.fields(state) if state is not None else {})
        fields.update(extra)
        fmt = getattr(backend, "format_prompt", None)
        system_text, user_text = system.format_map(fields), user.format_map(fields)
        if fmt is None:
            return (system_text + "\n\n" if system_text else "") + user_text + "\n"
        return fmt(system_text, user_text)
