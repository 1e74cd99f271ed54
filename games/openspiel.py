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
their trees, so the adapter resolves chance itself: when a state that stands at a chance node (at the
start, after an action) is next looked at, it draws an outcome from OpenSpiel's ``chance_outcomes()``
with a seeded sampler and plays it. The draw is a pure function of a seed and the history, so a state
and every copy of it that replays the same actions meet the same outcomes: an MCTS tree stays
consistent (the legal moves after a roll depend on the roll, so sampling afresh in every simulation
would replay moves that are illegal under another roll). Two seeds, so that a search does not see
the rolls the game will make: the state made by ``new_initial_state`` / ``deserialize`` rolls with the
game's ``chance_seed`` (fresh random bits when not given), and every ``clone`` rolls with one seed
derived from it. A search on a copy thus searches one sampled future (a determinization), the same in
every search of the game, so that tree reuse stays consistent too. ``history()`` lists the chance
outcomes as ``num_actions + outcome`` and ``apply_action`` replays them, so a history replayed on a copy
repeats the game's rolls (MCTS's tree reuse relies on it). Such games say ``has_chance = False`` (no
chance node ever reaches a search) and ``is_deterministic = False``; alpha-beta refuses them, and
imperfect-information games (``is_perfect_information = False``), with :class:`mcts.UnsupportedGameError`.
Simultaneous-move games are refused here, by ``load``.
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
_COPY_SALT = 0x636F7079  # derives the seed with which copies of a state sample chance


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
        self.max_chance_outcomes = int(game.max_chance_outcomes())
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

    def _state(self) -> "OpenSpielState":
        seed = self._seed_for_new_state()
        return OpenSpielState(self, self.pyspiel_game.new_initial_state(), 0, [], [], base_seed=seed, seed=seed)

    def new_initial_state(self) -> "OpenSpielState":
        """The start position (opening chance nodes, deals or the first roll, are sampled when the
        state is first looked at)."""
        return self._state()

    def deserialize(self, text: str) -> "OpenSpielState":
        """The position after the numbered actions of ``text`` (``serialize``'s output: chance
        outcomes as OpenSpiel numbers them, where the game has them; '' is the start). Chance nodes
        that the text leaves open are sampled.

        Raises:
            InvalidStateError: a token is not a number, or an action or outcome is illegal.
        """
        state = self._state()
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


def _restore_state(game: OpenSpielGame, full: list[int], base_seed: int, seed: int) -> "OpenSpielState":
    state = game.deserialize(" ".join(map(str, full)))
    state._base_seed, state._seed = base_seed, seed  # before anything samples a pending chance node
    return state


class OpenSpielState:
    """A position of an OpenSpiel game (see the module's notes on chance).

    ``apply_action`` is the fast path (no check; OpenSpiel raises on an illegal action);
    ``apply_action_checked`` checks the action first.
    """

    __slots__ = ("game", "_s", "_key", "_history", "_full", "_base_seed", "_seed")

    def __init__(self, game: OpenSpielGame, state: Any, key: int, history: list[int], full: list[int], *,
                 base_seed: int, seed: int) -> None:
        self.game = game
        self._s = state
        self._key = key              # history key: hash() and the sampler's input
        self._history = history      # players' actions, and chance outcomes as num_actions + outcome
        self._full = full            # every action and chance outcome as OpenSpiel numbers them (serialize)
        self._base_seed = base_seed  # the game's seed for this state's line; copies sample with a derived one
        self._seed = seed            # the sampler's seed of this object

    @property
    def pyspiel_state(self) -> Any:
        """The wrapped ``pyspiel.State`` (read it; changing it desynchronises the adapter)."""
        self._settle()
        return self._s

    def _play(self, action: int, *, chance: bool) -> None:
        self._s.apply_action(action)
        self._key = _mix(self._key, action + (1 << 32 if chance else 0))
        self._full.append(action)
        self._history.append(action + self.game.num_actions if chance else action)

    def _settle(self) -> None:
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
        self._settle()
        if self._s.is_terminal():
            return []
        return list(self._s.legal_actions())

    def legal_actions_mask(self) -> np.ndarray:
        mask = np.zeros(self.game.num_actions, dtype=bool)
        mask[self.legal_actions()] = True
        return mask

    def apply_action(self, action: int) -> None:
        """Plays a legal action without checking it (OpenSpiel itself raises on an illegal one).

        ``num_actions + k`` (as ``history()`` writes chance outcomes) plays chance outcome ``k`` at a
        chance node that has not been sampled yet, so that replaying a history repeats its rolls.
        """
        a = int(action)
        if a >= self.game.num_actions:
            if not self._s.is_chance_node():
                raise IllegalActionError(f"{self.game.name}: chance outcome {a - self.game.num_actions} "
                                         "given where no chance node is open")
            self._play(a - self.game.num_actions, chance=True)
            return
        self._settle()
        self._play(a, chance=False)

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
        """A copy of this position. Its future chance outcomes come from a seed derived from the
        game's (the same for every copy), not from the one the original rolls with: a search on a
        copy does not see the rolls the game will make."""
        self._settle()
        return OpenSpielState(self.game, self._s.clone(), self._key, list(self._history), list(self._full),
                              base_seed=self._base_seed, seed=_mix(self._base_seed, _COPY_SALT))

    def is_terminal(self) -> bool:
        self._settle()
        return bool(self._s.is_terminal())

    def returns(self) -> list[float]:
        self._settle()
        scale = self.game._return_scale
        return [float(r) / scale for r in self._s.returns()]

    def current_player(self) -> int:
        self._settle()
        if self._s.is_terminal():
            return TERMINAL_PLAYER
        return int(self._s.current_player())

    def hash(self) -> int:
        self._settle()
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
        player = max(0, self.current_player())  # settles
        values = self._s.observation_tensor(player) if kind == "observation" else self._s.information_state_tensor(player)
        return np.asarray(values, dtype=np.float32).reshape(self.game.observation_shape)

    def to_text(self) -> str:
        """OpenSpiel's drawing of the state, whose turn it is and the actions so far."""
        if self.is_terminal():
            status = f"game over: returns {self.returns()}"
        else:
            status = f"player {self.current_player()} to move"
        moves = self.serialize() or "(none)"
        return f"{str(self._s).rstrip()}\n{status}\nmoves: {moves}"

    def action_to_string(self, action: int) -> str:
        """OpenSpiel's text of a player's action; ``"chance: <text>"`` for a chance outcome written
        as ``num_actions + outcome`` (as ``history()`` lists them)."""
        n = self.game.num_actions
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) \
                or not 0 <= action < n + self.game.max_chance_outcomes:
            raise ActionOutOfRangeError(f"{self.game.name} action {action!r} is outside [0, {n})")
        if action >= n:  # no settling: a replay names the outcome of the chance node that is open
            return "chance: " + str(self._s.action_to_string(-1, int(action) - n))
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
        self._settle()
        return " ".join(map(str, self._full))

    def history(self) -> list[int]:
        """The actions since the start, chance outcomes included as ``num_actions + outcome``:
        ``apply_action`` replays them, rolls and all, from the start."""
        self._settle()
        return list(self._history)

    def __reduce__(self):
        return (_restore_state, (self.game, list(self._full), self._base_seed, self._seed))

    def __repr__(self) -> str:
        return f"OpenSpielState({self.game.name}, {self.serialize()!r})"
