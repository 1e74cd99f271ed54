"""Tournament configuration: reading a TOML file and checking every option and player in it.

A malformed configuration (unreadable file, invalid UTF-8, TOML syntax, an unknown key, a value of
the wrong type or out of range, a player that cannot be built) raises ``ConfigError`` whose message
is one line naming the source (the file, or ``command line``), the key and what is wrong; ``plytree
tournament`` prints it and exits with status 2.
"""
from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# tournament keys a TOML [tournament] table may set (the long options, with underscores)
TOML_KEYS = ("game", "board_size", "format", "gauntlet_players", "rounds", "openings", "openings_count",
             "openings_plies", "seed", "concurrency", "ray", "out", "resign", "draw", "max_moves", "sprt",
             "event", "each", "time_margin")
TOP_LEVEL_KEYS = ("tournament", "player")
FORMATS = ("roundrobin", "gauntlet")


class ConfigError(ValueError):
    """A tournament configuration that cannot be used; the message names the source and the key."""


def _type_name(value: Any) -> str:
    return {dict: "a table", list: "an array", bool: "a boolean", int: "an integer", float: "a number",
            str: "a string"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _integer(minimum: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {_type_name(value)} {_shown(value)}")
        if value < minimum:
            raise ValueError(f"expected an integer >= {minimum}, got {value}")
        return value
    return check


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_type_name(value)} {_shown(value)}")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {_type_name(value)} {_shown(value)}")
    if not value >= 0 or value == float("inf"):  # NaN fails too
        raise ValueError(f"expected a finite number >= 0, got {value}")
    return value


def _game(value: Any) -> Any:
    import games

    _text(value)
    if value.lower().startswith("openspiel:"):
        try:
            games.load(value)   # any OpenSpiel game: the adapter says what is wrong with the name
        except (ValueError, ImportError) as exc:
            raise ValueError(str(exc)) from None
        return value
    if value not in games.game_names():
        raise ValueError(f"unknown game {value!r}; known: {', '.join(games.game_names())}")
    return value


def _format(value: Any) -> Any:
    if _text(value) not in FORMATS:
        raise ValueError(f"expected one of {', '.join(FORMATS)}, got {value!r}")
    return value


def _ray(value: Any) -> Any:
    if isinstance(value, bool):
        return "local" if value else None
    return _text(value)


def _sprt(value: Any) -> Any:
    from engine._tournament_ratings import Sprt

    try:
        Sprt.parse(_text(value))
    except (TypeError, ValueError) as exc:  # Sprt's own checks (alpha in (0, 1), ...)
        raise ValueError(str(exc)) from None
    return value


def _adjudication(key: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        from engine._tournament_runner import Adjudication

        try:
            Adjudication.parse(_text(value) if key == "resign" else None, _text(value) if key == "draw" else None, None)
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
        return value
    return check


def _each(value: Any) -> Any:
    for part in filter(None, (t.strip() for t in _text(value).split(","))):
        key, sep, _ = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad item {part!r}: expected key=value")
    return value


CHECKS: dict[str, Callable[[Any], Any]] = {
    "game": _game, "board_size": _integer(2), "format": _format, "gauntlet_players": _integer(1),
    "rounds": _integer(1), "openings": _text, "openings_count": _integer(1), "openings_plies": _integer(0),
    "seed": _integer(0), "concurrency": _integer(1), "ray": _ray, "out": _text, "resign": _adjudication("resign"),
    "draw": _adjudication("draw"), "max_moves": _integer(1), "sprt": _sprt, "event": _text, "each": _each,
    "time_margin": _number,
}
assert set(CHECKS) == set(TOML_KEYS)


def check_options(options: Mapping[str, Any], source: str, *, prefix: str = "tournament.") -> dict[str, Any]:
    """Checked tournament options (``ray = true`` becomes ``"local"``).

    Args:
        options: option name -> value.
        source: where they come from, for messages (a file name, or ``"command line"``).
        prefix: how a key is shown (``"tournament."`` for TOML, ``"--"`` for the command line).

    Raises:
        ConfigError: an unknown key or a bad value.
    """
    out: dict[str, Any] = {}
    for key, value in options.items():
        shown = prefix + (key.replace("_", "-") if prefix == "--" else key)
        check = CHECKS.get(key)
        if check is None:
            raise ConfigError(f"{source}: {shown}: unknown key; known: {', '.join(TOML_KEYS)}")
        try:
            out[key] = check(value)
        except ValueError as exc:
            raise ConfigError(f"{source}: {shown}: {exc}") from None
    return out


_SCALARS = (str, int, float, bool)
_PLAYER_TEXT_KEYS = ("name", "kind", "cmd", "model", "evaluator", "factory")


def check_player(table: Any, source: str, index: int) -> dict[str, Any]:
    """A ``[[player]]`` table, checked: scalar values, strings where names are expected, an ``option``
    table of UCI options, and everything ``spec_from_mapping`` checks.

    Raises:
        ConfigError: the table or one of its keys is malformed.
    """
    from engine._tournament_players import PlayerSpecError, spec_from_mapping

    where = f"{source}: player[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table ([[player]]), got {_type_name(table)} {_shown(table)}")
    for key, value in table.items():
        if key == "option":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.option: expected a table of UCI options, got {_type_name(value)} {_shown(value)}")
            for name, v in value.items():
                if not isinstance(v, _SCALARS):
                    raise ConfigError(f"{where}.option.{name}: expected a string, number or boolean, got {_type_name(v)}")
        elif not isinstance(value, _SCALARS):
            raise ConfigError(f"{where}.{key}: expected a string, number or boolean, got {_type_name(value)} {_shown(value)}")
        elif key in _PLAYER_TEXT_KEYS and not isinstance(value, str):
            raise ConfigError(f"{where}.{key}: expected a string, got {_type_name(value)} {_shown(value)}")
        elif key in ("move_timeout", "seed") and (isinstance(value, (bool, str)) or not value >= 0):
            raise ConfigError(f"{where}.{key}: expected a number >= 0, got {_type_name(value)} {_shown(value)}")
    try:
        spec_from_mapping(table)
    except PlayerSpecError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return dict(table)


def parse_config(text: str, source: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Options and player tables of a TOML configuration (see ``load_config``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML syntax error: {exc}") from None
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = f" (tournament options go under [tournament])" if key in TOML_KEYS else ""
            raise ConfigError(f"{source}: {key}: unknown top-level key{hint}; known: [tournament], [[player]]")
    options = data.get("tournament", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: tournament: expected a table ([tournament]), got {_type_name(options)} {_shown(options)}")
    players = data.get("player", [])
    if not isinstance(players, list):
        raise ConfigError(f"{source}: player: expected an array of tables ([[player]]), got {_type_name(players)} {_shown(players)}")
    tables = [check_player(p, source, i) for i, p in enumerate(players)]
    names = [str(t.get("name", t.get("kind"))) for t in tables]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{source}: player[{i}].name: {name!r} is already the name of player[{names.index(name)}]")
    return check_options(options, source), tables


def load_config(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``[tournament]`` options and ``[[player]]`` tables of a TOML file, checked.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 or not TOML, or a key is unknown or has a
            bad value; the message is one line naming the file and the key.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text: byte {raw[exc.start]:#04x} at line {line}") from None
    return parse_config(text, str(path))
