"""Tournament schedule and openings.

The schedule is a pure function of (players, format, rounds, openings, seed): game ``i`` is always
the same pairing, colours and opening, which is what lets ``--resume`` skip finished games by index.
Games come in pairs: the same opening twice with colours swapped (pair ``k`` = games ``2k, 2k+1``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from mcts import random_playout_returns

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_OPENINGS = {"connect4": DATA_DIR / "openings_connect4.txt", "chess": DATA_DIR / "openings_chess.epd"}
FORMATS = ("roundrobin", "gauntlet")


class OpeningError(ValueError):
    """An opening file or line that does not give a playable position."""


@dataclass(frozen=True)
class Opening:
    """A start position: ``start`` (what ``game.deserialize`` reads) or None for the initial state."""

    label: str
    start: Optional[str] = None

    def to_dict(self) -> dict:
        return {"label": self.label, "start": self.start}


@dataclass(frozen=True)
class ScheduledGame:
    """One game of the schedule.

    Attributes:
        index: position in the schedule (the key of its record).
        round: round number, from 0.
        pair: game pair number (its two games share the opening, colours swapped).
        opening: index into the tournament's openings.
        seats: player indices per seat; seat 0 is the game's player 0 (White in chess).
    """

    index: int
    round: int
    pair: int
    opening: int
    seats: tuple[int, int]


def make_schedule(
    num_players: int,
    *,
    format: str = "roundrobin",
    rounds: int = 1,
    num_openings: int = 1,
    gauntlet_players: int = 1,
    seed: int = 0,
) -> list[ScheduledGame]:
    """The games of a tournament, in playing order.

    Every round each pairing plays one game pair on the round's opening. Openings are used in a
    seeded shuffled order, round ``r`` taking the ``r % num_openings``-th.

    Args:
        num_players: players (at least 2).
        format: ``roundrobin`` (everyone meets everyone) or ``gauntlet`` (the first
            ``gauntlet_players`` players meet each of the others).
        rounds: rounds (pairs per pairing).
        num_openings: size of the opening set.
        gauntlet_players: for ``gauntlet``, how many players at the front of the list run it.
        seed: shuffles the opening order.

    Raises:
        ValueError: fewer than two players, an unknown format, or rounds < 1.
    """
    if num_players < 2:
        raise ValueError(f"a tournament needs at least 2 players, got {num_players}")
    if format not in FORMATS:
        raise ValueError(f"unknown tournament format {format!r}; known: {', '.join(FORMATS)}")
    if rounds < 1 or num_openings < 1:
        raise ValueError(f"rounds and openings must be at least 1, got rounds={rounds}, openings={num_openings}")
    if format == "roundrobin":
        pairings = [(i, j) for i in range(num_players) for j in range(i + 1, num_players)]
    else:
        if not 1 <= gauntlet_players < num_players:
            raise ValueError(f"gauntlet players must be between 1 and {num_players - 1}, got {gauntlet_players}")
        pairings = [(i, j) for i in range(gauntlet_players) for j in range(gauntlet_players, num_players)]
    order = list(range(num_openings))
    random.Random(seed).shuffle(order)
    games: list[ScheduledGame] = []
    pair = 0
    for r in range(rounds):
        opening = order[r % num_openings]
        for a, b in pairings:
            first, second = (a, b) if r % 2 == 0 else (b, a)
            for seats in ((first, second), (second, first)):
                games.append(ScheduledGame(len(games), r, pair, opening, seats))
            pair += 1
    return games


# ---------------------------------------------------------------------------------------------
# openings


def load_openings(path: str | Path, game) -> list[Opening]:
    """Openings from a file: EPD (``.epd``) or PGN (``.pgn``) for chess, or text, one per line.

    A text line is a position that ``game.deserialize`` reads (a FEN for chess, the move string for
    Connect Four, e.g. ``4453``) or moves separated by spaces as the game writes them. Blank lines
    and lines starting with ``#`` are skipped; text after ``;`` is the label.

    Raises:
        FileNotFoundError: no such file.
        OpeningError: a line that is no position of ``game`` or is already over.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"opening file {str(path)!r} not found")
    suffix = path.suffix.lower()
    if suffix == ".pgn":
        return _load_pgn(path, game)
    openings = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if suffix == ".epd":
            openings.append(_epd_opening(line, game, f"{path.name}:{n}"))
        else:
            body, _, label = line.partition(";")
            openings.append(_text_opening(body.strip(), game, label.strip() or body.strip(), f"{path.name}:{n}"))
    if not openings:
        raise OpeningError(f"opening file {str(path)!r} has no openings")
    return openings


def _checked(game, start: str, where: str) -> str:
    from games import GameError

    try:
        state = game.deserialize(start)
    except (GameError, ValueError) as exc:
        raise OpeningError(f"{where}: not a {game.name} position: {exc}") from None
    if state.is_terminal():
        raise OpeningError(f"{where}: the game is already over in {start!r}")
    return state.serialize()


def _text_opening(line: str, game, label: str, where: str) -> Opening:
    from games import GameError

    try:
        return Opening(label, _checked(game, line, where))
    except OpeningError:
        pass
    state = game.new_initial_state()
    for token in line.split():
        try:
            state.apply_action_checked(state.string_to_action(token))
        except (GameError, ValueError) as exc:
            raise OpeningError(f"{where}: bad opening {line!r}: {exc}") from None
    if state.is_terminal():
        raise OpeningError(f"{where}: the game is already over after {line!r}")
    return Opening(label, state.serialize())


def _epd_opening(line: str, game, where: str) -> Opening:
    import chess

    try:
        board, ops = chess.Board.from_epd(line, chess960=game.name == "chess960")
    except ValueError as exc:
        raise OpeningError(f"{where}: bad EPD line {line!r}: {exc}") from None
    label = str(ops.get("id", ops.get("c0", board.epd())))
    return Opening(label, _checked(game, board.fen(), where))


def _load_pgn(path: Path, game) -> list[Opening]:
    import chess.pgn

    openings: list[Opening] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        while True:
            pgn = chess.pgn.read_game(f)
            if pgn is None:
                break
            board = pgn.board()
            sans = []
            for move in pgn.mainline_moves():
                sans.append(board.san(move))
                board.push(move)
            label = pgn.headers.get("Opening") or " ".join(sans) or "start"
            openings.append(Opening(label, _checked(game, board.fen(), f"{path.name} game {len(openings) + 1}")))
    if not openings:
        raise OpeningError(f"PGN file {str(path)!r} has no games")
    return openings


def random_openings(
    game,
    count: int,
    *,
    plies: int = 4,
    seed: int = 0,
    rollouts: int = 64,
    balance: float = 0.3,
    max_tries: int = 2000,
) -> list[Opening]:
    """Distinct random openings that a quick look judges balanced, for games without a book.

    Each candidate is ``plies`` uniformly random moves from the initial state; it is kept when
    ``rollouts`` random playouts from it give player 0 a mean return within ``[-balance, balance]``
    (the quick, game-agnostic judgement; colour-swapped pairs cancel what bias remains).

    Args:
        game: the game.
        count: openings wanted.
        plies: random moves per opening.
        seed: makes the set reproducible.
        rollouts: playouts per candidate.
        balance: largest accepted mean return, in [0, 1].
        max_tries: candidates to try before settling for the most balanced ones found.
    """
    rng = random.Random(seed)
    seen: dict[str, float] = {}
    for _ in range(max_tries):
        state = game.new_initial_state()
        for _ in range(plies):
            if state.is_terminal():
                break
            state.apply_action(rng.choice(state.legal_actions()))
        if state.is_terminal():
            continue
        key = state.serialize()
        if key in seen:
            continue
        seen[key] = abs(_rollout_mean(state, rollouts, rng))
        if sum(1 for v in seen.values() if v <= balance) >= count:
            break
    ranked = sorted(seen.items(), key=lambda kv: (kv[1] > balance, rng.random()))
    chosen = [k for k, _ in ranked[:count]]
    return [Opening(f"random {i + 1}: {k}", k) for i, k in enumerate(chosen)]


def _rollout_mean(state, rollouts: int, rng: random.Random) -> float:
    total = sum(random_playout_returns(state, rng, seed_bits=63)[0] for _ in range(rollouts))
    return total / max(rollouts, 1)


def opening_set(game, source: Optional[str], *, count: int = 8, plies: int = 4, seed: int = 0) -> list[Opening]:
    """The openings for a tournament.

    Args:
        source: a file path; ``"default"`` (the set shipped for the game, else random); ``"random"``;
            ``"none"`` (the initial position only).
        count, plies, seed: for random openings.
    """
    if source is None or source == "default":
        path = DEFAULT_OPENINGS.get(game.name)
        if path is not None and path.exists():
            return load_openings(path, game)
        source = "random"
    if source == "none":
        return [Opening("initial position", None)]
    if source == "random":
        return random_openings(game, count, plies=plies, seed=seed)
    return load_openings(source, game)


def opening_labels(openings: Sequence[Opening]) -> list[str]:
    return [o.label for o in openings]
