"""Any OpenSpiel game behind plytree's game protocol: ``games.load("openspiel:<name>", **params)``.

``games.load("openspiel:breakthrough")``, ``games.load("openspiel:go", board_size=9)`` and
``games.load("openspiel:go(board_size=9)")`` wrap a ``pyspiel`` game so that MCTS, alpha-beta, the
command line, tournaments and self-play use it like a shipped game. OpenSpiel stays optional: without
it, loading an ``openspiel:`` game raises :class:`OpenSpielMissingError`, which names the extra to
install (``pip install 'plytree[openspiel]'``).

What the adapter maps:

* actions are OpenSpiel's distinct actions (``num_actions = num_distinct_actions()``), their text is
  ``action_to_string(player, action)``; ``string_to_action`` also reads the action's number;
* ``returns()`` are OpenSpiel's returns divided by the largest absolute utility, so that they lie in
  [-1, 1] (backgammon's gammon and backgammon become 2/3 and 1);
* ``observation()`` is ``observation_tensor(player to move)`` reshaped to ``observation_shape``
  (the information-state tensor for games that only have that); imperfect-information games thus
  see only what the player to move may see;
* ``hash()`` is a 64-bit mix of every action and chance outcome since the start (stable across
  processes). OpenSpiel's state strings do not always hold the whole state (repetition and move
  counters), so the key follows the history: two move orders reaching one position get two keys,
  which costs transpositions but never merges two different positions;
* ``serialize()`` is the whole history as numbers, chance outcomes included, e.g. ``"12 403 7"``;
  ``game.deserialize`` replays it (whitespace or commas between the numbers).

Chance nodes. The searches of plytree (``mcts.MCTS``, ``mcts.AlphaBeta``) have no chance nodes in
their trees, so the adapter resolves chance itself: whenever a state reaches a chance node (at the
start and after an action), it draws an outcome from OpenSpiel's ``chance_outcomes()`` with a
seeded sampler and plays it. The draw is a pure function of the game's ``chance_seed`` and the
history, so a clone that replays the same actions meets the same outcomes. A search therefore sees
one sampled future per position, consistent within its tree and across tree reuse (a "determinized"
search, as open-loop sampling would break: the legal moves after a dice roll depend on the roll).
One consequence: a search that clones the game's own state searches the rolls the game will make;
both players get this, and ``chance_seed`` (the game parameter) changes the rolls. Such games say
``has_chance = False`` (no chance node ever reaches a search) and ``is_deterministic = False``;
alpha-beta refuses them, and imperfect-information games (``is_perfect_information = False``),
with :class:`mcts.UnsupportedGameError`. Simultaneous-move games are refused here, by ``load``.
"""
from __future__ import annotations

import os
import re
from typing import Any, Optional

import numpy as np

from games._errors import (
    ActionOutOfRangeError,
    GameError,
    IllegalActionError,
    InvalidActionError,
    InvalidStateError,
    UnknownGameError,
)
from games._protocol import TERMINAL_PLAYER

PREFIX = "openspiel:"
_MASK = (1 << 64) - 1
_TOKEN_SEP = re.compile(r"[\s,]+")
# params of the adapter itself, not passed on to OpenSpiel
_ADAPTER_PARAMS = ("chance_seed",)


class OpenSpielMissingError(UnknownGameError):
    """An ``openspiel:`` game was asked for but OpenSpiel (``pyspiel``) is not installed."""


class UnsupportedOpenSpielGameError(GameError):
    """The OpenSpiel game has a kind the protocol cannot express (simultaneous moves, sampled chance)."""


def _mix(key: int, value: int) -> int:
    """One splitmix64 step over ``key`` and ``value``: the incremental history key."""
    z = (key + 0x9E3779B97F4A7C15 + (value & _MASK) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _pyspiel():
    try:
        import pyspiel
    except ImportError as exc:
        raise OpenSpielMissingError(
            "openspiel: games need OpenSpiel, which is not installed; "
            "install the extra with: pip install 'plytree[openspiel]' (or pip install open_spiel)") from exc
    return pyspiel


def _plain(value: Any) -> Any:
    """An OpenSpiel parameter value as a plain Python value (JSON-friendly)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise ValueError(f"OpenSpiel game parameter {value!r} is not a bool, int, float or string")


def load_openspiel(spec: str, **params: Any) -> "OpenSpielGame":
    """Builds the adapter for an OpenSpiel game.

    Args:
        spec: OpenSpiel's name, optionally with parameters: ``"go"``, ``"go(board_size=9)"``
            (the ``openspiel:`` prefix is allowed and dropped).
        **params: more parameters (they win over those in ``spec``); ``chance_seed`` (int) seeds
            the sampler of chance outcomes and is not passed to OpenSpiel.

    Raises:
        OpenSpielMissingError: ``pyspiel`` is not installed.
        UnknownGameError: OpenSpiel has no game of that name.
        UnsupportedOpenSpielGameError: a simultaneous-move game, or one with sampled chance.
        ValueError: a parameter OpenSpiel rejects.
    """
    pyspiel = _pyspiel()
    text = spec[len(PREFIX):] if spec.lower().startswith(PREFIX) else spec
    text = text.strip()
    if not text:
        raise UnknownGameError("give an OpenSpiel game after 'openspiel:', e.g. openspiel:breakthrough")
    if "(" in text:
        try:
            parsed = dict(pyspiel.game_parameters_from_string(text))
        except Exception as exc:  # pyspiel raises its own error type for syntax errors
            raise UnknownGameError(f"cannot read the OpenSpiel game {text!r}: {exc}") from exc
        short = str(parsed.pop("name"))
        merged = {k: _plain(v) for k, v in parsed.items()}
    else:
        short, merged = text, {}
    merged.update({k: _plain(v) for k, v in params.items()})
    registered = {t.short_name for t in pyspiel.registered_games()}
    if short not in registered:
        raise UnknownGameError(f"OpenSpiel has no game {short!r} (pyspiel.registered_names() lists them)")
    return OpenSpielGame(short, merged)


def _restore_game(short: str, params: dict[str, Any]) -> "OpenSpielGame":
    return OpenSpielGame(short, params)


class OpenSpielGame:
    """An OpenSpiel game seen through plytree's ``Game`` protocol (build it with ``games.load``).

    Attributes:
        name: ``"openspiel:<short name>"``; ``games.load(name, **params)`` builds it again.
        params: the parameters given (OpenSpiel's, plus ``chance_seed`` when given).
        is_deterministic: false when OpenSpiel's game has chance nodes (resolved by the sampler).
        is_perfect_information: OpenSpiel's information type.
        pyspiel_game: the wrapped ``pyspiel.Game``.
    """

    has_chance = False       # chance nodes are resolved inside the states: no search ever meets one
    is_simultaneous = False  # refused by load

    def __init__(self, short_name: str, params: Optional[dict[str, Any]] = None) -> None:
        pyspiel = _pyspiel()
        params = dict(params or {})
        seed = params.get("chance_seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"chance_seed must be an integer, got {seed!r}")
        os_params = {k: v for k, v in params.items() if k not in _ADAPTER_PARAMS}
        try:
            game = pyspiel.load_game(short_name, os_params)
        except Exception as exc:  # pyspiel.SpielError for bad parameters
            raise ValueError(f"OpenSpiel rejects {short_name}({os_params}): {exc}") from exc
        info = game.get_type()
        if info.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
            raise UnsupportedOpenSpielGameError(
                f"openspiel:{short_name} has simultaneous moves; plytree's protocol and searches are for "
                "games where one player moves at a time (OpenSpiel's sequential games)")
        if info.chance_mode == pyspiel.GameType.ChanceMode.SAMPLED_STOCHASTIC:
            raise UnsupportedOpenSpielGameError(
                f"openspiel:{short_name} samples its chance outcomes inside OpenSpiel (no outcome list), "
                "which the adapter cannot seed")
        self.pyspiel_game = game
        self.short_name = short_name
        self.name = PREFIX + short_name
        self.params = params
        self.chance_seed = None if seed is None else int(seed)
        self.num_players = int(game.num_players())
        self.num_actions = int(game.num_distinct_actions())
        self.max_game_length = int(game.max_game_length())
        self.is_deterministic = info.chance_mode == pyspiel.GameType.ChanceMode.DETERMINISTIC
        self.is_perfect_information = info.information == pyspiel.GameType.Information.PERFECT_INFORMATION
        self.is_zero_sum = info.utility == pyspiel.GameType.Utility.ZERO_SUM
        scale = max(abs(float(game.min_utility())), abs(float(game.max_utility())))
        self._return_scale = scale if scale > 0 else 1.0
        if info.provides_observation_tensor:
            self._tensor = "observation"
            self.observation_shape: tuple[int, ...] = tuple(int(d) for d in game.observation_tensor_shape())
        elif info.provides_information_state_tensor:
            self._tensor = "information_state"
            self.observation_shape = tuple(int(d) for d in game.information_state_tensor_shape())
        else:
            self._tensor = ""
            self.observation_shape = (0,)

    # --- states ---------------------------------------------------------------------------------
    def _seed_for_new_state(self) -> int:
        if self.chance_seed is not None:
            return self.chance_seed & _MASK
        return int.from_bytes(os.urandom(8), "little")

    def new_initial_state(self) -> "OpenSpielState":
        """The start position, with any opening chance nodes (deals, first roll) already sampled."""
        state = OpenSpielState(self, self.pyspiel_game.new_initial_state(), 0, [], self._seed_for_new_state())
        state._resolve_chance()
        return state

    def deserialize(self, text: str) -> "OpenSpielState":
        """The position after the numbered actions of ``text`` (``serialize``'s output; chance
        outcomes included where the game has them; '' is the start). Chance nodes that the text
        leaves open are sampled.

        Raises:
            InvalidStateError: a token is not a number, or an action or outcome is illegal.
        """
        state = OpenSpielState(self, self.pyspiel_game.new_initial_state(), 0, [], self._seed_for_new_state())
        tokens = [t for t in _TOKEN_SEP.split(str(text).strip()) if t]
        for i, token in enumerate(tokens):
            try:
                a = int(token)
            except ValueError:
                raise InvalidStateError(
                    f"{self.name} move string {text!r}: token {i + 1} {token!r} is not an action number") from None
            s = state._s
            if s.is_terminal():
                raise InvalidStateError(f"{self.name} move string {text!r}: token {i + 1} comes after the end of the game")
            if s.is_chance_node():
                if a not in {o for o, _ in s.chance_outcomes()}:
                    raise InvalidStateError(f"{self.name} move string {text!r}: token {i + 1} ({a}) is not a chance outcome here")
                state._play(a, chance=True)
            else:
                if a not in s.legal_actions():
                    raise InvalidStateError(f"{self.name} move string {text!r}: token {i + 1} ({a}) is illegal")
                state._play(a, chance=False)
        state._resolve_chance()
        return state

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpenSpielGame) and (self.short_name, self.params) == (other.short_name, other.params)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted((k, str(v)) for k, v in self.params.items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"OpenSpielGame({self.short_name}{'(' + args + ')' if args else ''})"

    def __reduce__(self):
        return (_restore_game, (self.short_name, dict(self.params)))


def _restore_state(game: OpenSpielGame, full: list[int], seed: int) -> "OpenSpielState":
    state = game.deserialize(" ".join(map(str, full)))
    state._seed = seed
    return state


class OpenSpielState:
    """A position of an OpenSpiel game; never at a chance node (see the module's notes).

    ``apply_action`` is the fast path (no check; OpenSpiel raises on an illegal action);
    ``apply_action_checked`` checks the action first.
    """

    __slots__ = ("game", "_s", "_key", "_history", "_full", "_seed")

    def __init__(self, game: OpenSpielGame, state: Any, key: int, history: list[int], seed: int,
                 full: Optional[list[int]] = None) -> None:
        self.game = game
        self._s = state
        self._key = key              # history key: hash() and the sampler's input
        self._history = history      # the players' actions
        self._full = full if full is not None else []  # every action and chance outcome (serialize)
        self._seed = seed

    @property
    def pyspiel_state(self) -> Any:
        """The wrapped ``pyspiel.State`` (read it; changing it desynchronises the adapter)."""
        return self._s

    def _play(self, action: int, *, chance: bool) -> None:
        self._s.apply_action(action)
        self._key = _mix(self._key, action + (1 << 32 if chance else 0))
        self._full.append(action)
        if not chance:
            self._history.append(action)

    def _resolve_chance(self) -> None:
        """Plays sampled outcomes while the state stands at a chance node."""
        s = self._s
        while s.is_chance_node():
            outcomes = s.chance_outcomes()
            u = _mix(self._key, self._seed) / 2.0 ** 64
            acc = 0.0
            pick = outcomes[-1][0]
            for outcome, p in outcomes:
                acc += p
                if u < acc:
                    pick = outcome
                    break
            self._play(int(pick), chance=True)

    # --- the protocol ---------------------------------------------------------------------------
    def legal_actions(self) -> list[int]:
        if self._s.is_terminal():
            return []
        return list(self._s.legal_actions())

    def legal_actions_mask(self) -> np.ndarray:
        mask = np.zeros(self.game.num_actions, dtype=bool)
        mask[self.legal_actions()] = True
        return mask

    def apply_action(self, action: int) -> None:
        """Plays a legal action without checking it (OpenSpiel itself raises on an illegal one),
        then samples any chance node that follows."""
        self._play(int(action), chance=False)
        self._resolve_chance()

    def _check(self, action: Any) -> int:
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) \
                or not 0 <= action < self.game.num_actions:
            raise ActionOutOfRangeError(f"{self.game.name} action {action!r} is outside [0, {self.game.num_actions})")
        a = int(action)
        if a not in self.legal_actions():
            raise IllegalActionError(f"illegal {self.game.name} action {a} in position {self.serialize()!r}")
        return a

    def apply_action_checked(self, action: int) -> None:
        """Plays ``action`` after checking it.

        Raises:
            ActionOutOfRangeError: not an integer in ``[0, num_actions)``.
            IllegalActionError: not legal here (or the game is over).
        """
        self.apply_action(self._check(action))

    def clone(self) -> "OpenSpielState":
        return OpenSpielState(self.game, self._s.clone(), self._key, list(self._history), self._seed, list(self._full))

    def is_terminal(self) -> bool:
        return bool(self._s.is_terminal())

    def returns(self) -> list[float]:
        scale = self.game._return_scale
        return [float(r) / scale for r in self._s.returns()]

    def current_player(self) -> int:
        if self._s.is_terminal():
            return TERMINAL_PLAYER
        return int(self._s.current_player())

    def hash(self) -> int:
        return self._key

    def observation(self) -> np.ndarray:
        """float32 ``game.observation_shape``: OpenSpiel's observation tensor of the player to move
        (player 0 once the game is over).

        Raises:
            UnsupportedOpenSpielGameError: the OpenSpiel game provides no tensor.
        """
        kind = self.game._tensor
        if not kind:
            raise UnsupportedOpenSpielGameError(f"{self.game.name} provides no observation tensor")
        player = max(0, self.current_player())
        values = self._s.observation_tensor(player) if kind == "observation" else self._s.information_state_tensor(player)
        return np.asarray(values, dtype=np.float32).reshape(self.game.observation_shape)

    def to_text(self) -> str:
        """OpenSpiel's drawing of the state, whose turn it is and the actions so far."""
        if self._s.is_terminal():
            status = f"game over: returns {self.returns()}"
        else:
            status = f"player {self.current_player()} to move"
        moves = self.serialize() or "(none)"
        return f"{str(self._s).rstrip()}\n{status}\nmoves: {moves}"

    def action_to_string(self, action: int) -> str:
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) \
                or not 0 <= action < self.game.num_actions:
            raise ActionOutOfRangeError(f"{self.game.name} action {action!r} is outside [0, {self.game.num_actions})")
        player = self.current_player()
        return str(self._s.action_to_string(player if player >= 0 else 0, int(action)))

    def string_to_action(self, text: str) -> int:
        """The action whose text (``action_to_string``) is ``text``, or whose number it is.

        Raises:
            InvalidActionError: ``text`` is neither a number nor the text of a legal action.
            IllegalActionError: a number of an illegal action, or the game is over.
        """
        t = str(text).strip()
        if re.fullmatch(r"-?[0-9]+", t):
            return self._check(int(t))
        legal = self.legal_actions()
        if not legal:
            raise IllegalActionError(f"{self.game.name}: the game is over, {text!r} cannot be played")
        names = {self.action_to_string(a): a for a in legal}
        if t in names:
            return names[t]
        folded = {k.strip().lower(): a for k, a in names.items()}
        if t.lower() in folded:
            return folded[t.lower()]
        sample = ", ".join(list(names)[:8])
        raise InvalidActionError(f"{text!r} is not a legal {self.game.name} move here (legal: {sample}"
                                 f"{', ...' if len(names) > 8 else ''})")

    def serialize(self) -> str:
        """Every action and chance outcome since the start, as numbers separated by spaces."""
        return " ".join(map(str, self._full))

    def history(self) -> list[int]:
        """The players' actions since the start (chance outcomes left out: they follow from the
        sampler; ``serialize`` keeps them)."""
        return list(self._history)

    def __reduce__(self):
        return (_restore_state, (self.game, list(self._full), self._seed))

    def __repr__(self) -> str:
        return f"OpenSpielState({self.game.name}, {self.serialize()!r})"
