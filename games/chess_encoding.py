"""The fixed policy index space of chess and Chess960: 4672 = 64 * 73 actions.

This numbering is a contract: the Cython chess board must produce the very same numbers, and trained
networks depend on it. Change nothing here without changing both.

``action = from_square * 73 + plane``. Squares are absolute, numbered as python-chess does
(a1 = 0, b1 = 1, ..., h8 = 63); nothing is flipped for Black.

Planes (``df`` = file delta, ``dr`` = rank delta of the move):

* 0..55, "queen-like" moves: ``plane = direction * 7 + (distance - 1)``, directions in this order:
  N (0,+1), NE (+1,+1), E (+1,0), SE (+1,-1), S (0,-1), SW (-1,-1), W (-1,0), NW (-1,+1).
* 56..63, knight moves, ``(df, dr)`` in this order: (+1,+2), (+2,+1), (+2,-1), (+1,-2), (-1,-2),
  (-2,-1), (-2,+1), (-1,+2).
* 64..72, under-promotions: ``plane = 64 + dir * 3 + piece``, ``dir`` 0, 1, 2 for ``df`` = -1, 0, +1
  and ``piece`` 0, 1, 2 for knight, bishop, rook.

Queen promotions and every other pawn move use the queen-like planes. Castling, in standard chess
and in Chess960 alike, is the king moving onto its own rook's square (a queen-like E or W move whose
distance is the file distance): python-chess's internal king-takes-rook form. So in standard chess
``e1g1`` is the action of e1 -> h1 (E, distance 3); in a Chess960 position with the king on g1,
castling with the h1 rook is g1 -> h1 (E, distance 1). No legal king move ever lands on an own rook,
so this never collides with an ordinary move.

:func:`move_to_action` and :func:`action_to_move` convert between this numbering and
:class:`chess.Move`, using precomputed tables.
"""
from __future__ import annotations

import chess

NUM_PLANES = 73
NUM_ACTIONS = 64 * NUM_PLANES  # 4672

QUEEN_DIRECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1),
)
KNIGHT_DELTAS: tuple[tuple[int, int], ...] = (
    (1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2),
)
UNDERPROMOTION_PIECES: tuple[int, ...] = (chess.KNIGHT, chess.BISHOP, chess.ROOK)
KNIGHT_PLANE0 = 56
UNDERPROMOTION_PLANE0 = 64

NO_SQUARE = -1  # ACTION_TO_SQUARE entry of a move that leaves the board


def _build_tables() -> tuple[list[int], list[int], list[int]]:
    """Returns ``(action_to_square, pair_to_action, action_to_promotion)``.

    ``action_to_square[a]``: target square of action ``a`` or ``NO_SQUARE``;
    ``pair_to_action[from * 64 + to]``: the queen-like/knight action of that square pair or -1;
    ``action_to_promotion[a]``: the under-promotion piece type of ``a`` or 0.
    """
    to_square = [NO_SQUARE] * NUM_ACTIONS
    pair = [-1] * (64 * 64)
    promotion = [0] * NUM_ACTIONS
    for frm in range(64):
        f0, r0 = frm % 8, frm // 8
        targets: list[tuple[int, int, int]] = []  # (plane, df, dr)
        for d, (df, dr) in enumerate(QUEEN_DIRECTIONS):
            for dist in range(1, 8):
                targets.append((d * 7 + dist - 1, df * dist, dr * dist))
        for k, (df, dr) in enumerate(KNIGHT_DELTAS):
            targets.append((KNIGHT_PLANE0 + k, df, dr))
        for plane, df, dr in targets:
            f, r = f0 + df, r0 + dr
            if 0 <= f < 8 and 0 <= r < 8:
                a = frm * NUM_PLANES + plane
                to_square[a] = r * 8 + f
                pair[frm * 64 + r * 8 + f] = a
        # under-promotions: a white pawn on rank 7 moves up, a black pawn on rank 2 moves down
        dr = 1 if r0 == 6 else (-1 if r0 == 1 else 0)
        for di, df in enumerate((-1, 0, 1)):
            f = f0 + df
            for p, piece in enumerate(UNDERPROMOTION_PIECES):
                a = frm * NUM_PLANES + UNDERPROMOTION_PLANE0 + di * 3 + p
                promotion[a] = piece
                if dr and 0 <= f < 8:
                    to_square[a] = (r0 + dr) * 8 + f
    return to_square, pair, promotion


ACTION_TO_SQUARE, PAIR_TO_ACTION, ACTION_TO_PROMOTION = _build_tables()


def move_to_action(move: chess.Move, board: chess.Board) -> int:
    """The action of ``move`` in ``board`` (the position before the move).

    Accepts castling in either form python-chess knows (``e1g1`` or king-takes-rook ``e1h1``). The
    move is not checked for legality.

    Args:
        move: a move of the side to move (not a null move or a drop).
        board: the position it is played in; needed only to recognise standard castling.

    Returns:
        The action in ``[0, 4672)``.

    Raises:
        ValueError: the move is a null move, a drop, or has no action (e.g. a knight-like promotion).
    """
    frm, to, promo = move.from_square, move.to_square, move.promotion
    if promo is not None and promo != chess.QUEEN:
        df = (to & 7) - (frm & 7)
        if promo not in UNDERPROMOTION_PIECES or not -1 <= df <= 1 or move.drop:
            raise ValueError(f"move {move.uci()!r} has no action in {board.fen()!r}")
        return frm * NUM_PLANES + UNDERPROMOTION_PLANE0 + (df + 1) * 3 + (promo - chess.KNIGHT)
    df = (to & 7) - (frm & 7)
    if (df == 2 or df == -2) and (board.kings >> frm) & 1 and not (board.occupied_co[board.turn] >> to) & 1:
        # standard castling text (king two files over): the king takes its corner rook, as
        # python-chess reads e1g1 / e1c1 in both modes
        to = (frm & ~7) + (7 if df > 0 else 0)
    a = PAIR_TO_ACTION[frm * 64 + to] if frm != to and not move.drop else -1
    if a < 0:
        raise ValueError(f"move {move.uci()!r} has no action in {board.fen()!r}")
    return a


def action_to_move(action: int, board: chess.Board) -> chess.Move:
    """The :class:`chess.Move` of ``action`` in ``board``, as python-chess lists it among the legal moves.

    A pawn reaching the last rank on a queen-like plane promotes to a queen. In standard chess
    (``board.chess960`` false) a king onto its own rook becomes the usual ``e1g1`` / ``e1c1`` text.
    The result is not checked for legality; an action whose target is off the board gives a move onto
    its own square (which no position accepts).

    Args:
        action: an int in ``[0, 4672)``.
        board: the position the action is played in.

    Returns:
        The move.
    """
    frm = action // NUM_PLANES
    to = ACTION_TO_SQUARE[action]
    if to < 0:
        return chess.Move(frm, frm)
    promo = ACTION_TO_PROMOTION[action]
    if promo:
        return chess.Move(frm, to, promo)
    bit = 1 << frm
    if board.pawns & bit:
        if to >= 56 or to < 8:
            return chess.Move(frm, to, chess.QUEEN)
    elif board.kings & bit and (board.occupied_co[board.turn] >> to) & 1 and not board.chess960:
        # king takes own rook = castling; python-chess writes standard castling as e1g1 / e1c1
        return chess.Move(frm, (frm & ~7) + (6 if to > frm else 2))
    return chess.Move(frm, to)


def legal_move_actions(board: chess.Board) -> list[int]:
    """Actions of every legal move of ``board`` (ignoring draws by rule), ascending.

    Args:
        board: any position.

    Returns:
        Sorted actions; empty at checkmate and stalemate.
    """
    pair = PAIR_TO_ACTION
    kings = board.kings if not board.chess960 else 0  # standard castling needs the corner fix-up
    own = board.occupied_co[board.turn]
    out: list[int] = []
    append = out.append
    for m in board.generate_legal_moves():
        frm, to, promo = m.from_square, m.to_square, m.promotion
        if promo and promo != 5:  # chess.QUEEN
            append(frm * 73 + 64 + ((to & 7) - (frm & 7) + 1) * 3 + promo - 2)
            continue
        if (kings >> frm) & 1:
            df = (to & 7) - (frm & 7)
            if (df == 2 or df == -2) and not (own >> to) & 1:
                to = (frm & ~7) + (7 if df > 0 else 0)
        append(pair[frm * 64 + to])
    out.sort()
    return out
