"""Chess evaluation tables and a tapered evaluation, kept in one place as plain arrays.

Material and piece-square tables, one for the middlegame (MG) and one for the endgame (EG), blended
by the game phase (knights and bishops 1, rooks 2, queens 4; 24 at the start). Tables are indexed
by square from White's view (a1 = 0 ... h8 = 63, as python-chess); Black's square ``s`` reads
entry ``s ^ 56`` (the rank mirror). Values are centipawns. A faster board (Cython) may import the
arrays here and stay in step with this evaluation.

The values were set for this project by hand from common chess principles (central knights,
advanced pawns in the endgame, a sheltered king in the middlegame and an active one in the endgame).
"""
from __future__ import annotations

import chess

# index by python-chess piece type: 1 pawn .. 6 king (0 unused)
PIECE_VALUE_MG = [0, 100, 320, 330, 490, 960, 0]
PIECE_VALUE_EG = [0, 120, 300, 320, 540, 1000, 0]
PHASE_WEIGHT = [0, 0, 1, 1, 2, 4, 0]
PHASE_TOTAL = 24
TEMPO = 10  # bonus for the side to move (middlegame)

PAWN_MG = [  # a1 .. h8, White's view
       0,    0,    0,    0,    0,    0,    0,    0,
       0,    2,    4,   -4,   -4,    4,    2,    0,
       5,    7,    9,   11,   11,    9,    7,    5,
      10,   16,   22,   28,   28,   22,   16,   10,
      15,   21,   27,   33,   33,   27,   21,   15,
      20,   22,   24,   26,   26,   24,   22,   20,
      35,   37,   39,   41,   41,   39,   37,   35,
       0,    0,    0,    0,    0,    0,    0,    0,
]
PAWN_EG = [  # a1 .. h8, White's view
       0,    0,    0,    0,    0,    0,    0,    0,
       0,    0,    0,    0,    0,    0,    0,    0,
      12,   12,   12,   12,   12,   12,   12,   12,
      24,   24,   24,   24,   24,   24,   24,   24,
      36,   36,   36,   36,   36,   36,   36,   36,
      56,   56,   56,   56,   56,   56,   56,   56,
      85,   85,   85,   85,   85,   85,   85,   85,
       0,    0,    0,    0,    0,    0,    0,    0,
]
KNIGHT_MG = [  # a1 .. h8, White's view
     -40,  -50,  -40,  -40,  -40,  -40,  -50,  -40,
     -40,  -20,  -20,  -20,  -20,  -20,  -20,  -40,
     -40,  -20,    0,    0,    0,    0,  -20,  -40,
     -40,  -20,    0,   15,   15,    0,  -20,  -40,
     -40,  -20,    0,   15,   15,    0,  -20,  -40,
     -40,  -20,    0,    0,    0,    0,  -20,  -40,
     -40,  -20,  -20,  -20,  -20,  -20,  -20,  -40,
     -40,  -40,  -40,  -40,  -40,  -40,  -40,  -40,
]
KNIGHT_EG = [  # a1 .. h8, White's view
     -35,  -35,  -35,  -35,  -35,  -35,  -35,  -35,
     -35,  -15,  -15,  -15,  -15,  -15,  -15,  -35,
     -35,  -15,    0,    0,    0,    0,  -15,  -35,
     -35,  -15,    0,   10,   10,    0,  -15,  -35,
     -35,  -15,    0,   10,   10,    0,  -15,  -35,
     -35,  -15,    0,    0,    0,    0,  -15,  -35,
     -35,  -15,  -15,  -15,  -15,  -15,  -15,  -35,
     -35,  -35,  -35,  -35,  -35,  -35,  -35,  -35,
]
BISHOP_MG = [  # a1 .. h8, White's view
      -9,  -15,  -15,  -15,  -15,  -15,  -15,   -9,
     -15,    3,   -3,   -3,   -3,   -3,    3,  -15,
     -15,   -3,   11,    5,    5,   11,   -3,  -15,
     -15,   -3,    5,   16,   16,    5,   -3,  -15,
     -15,   -3,    5,   16,   16,    5,   -3,  -15,
     -15,   -3,   11,    5,    5,   11,   -3,  -15,
     -15,    3,   -3,   -3,   -3,   -3,    3,  -15,
      -9,  -15,  -15,  -15,  -15,  -15,  -15,   -9,
]
BISHOP_EG = [  # a1 .. h8, White's view
     -12,  -12,  -12,  -12,  -12,  -12,  -12,  -12,
     -12,   -4,   -4,   -4,   -4,   -4,   -4,  -12,
     -12,   -4,    2,    2,    2,    2,   -4,  -12,
     -12,   -4,    2,    6,    6,    2,   -4,  -12,
     -12,   -4,    2,    6,    6,    2,   -4,  -12,
     -12,   -4,    2,    2,    2,    2,   -4,  -12,
     -12,   -4,   -4,   -4,   -4,   -4,   -4,  -12,
     -12,  -12,  -12,  -12,  -12,  -12,  -12,  -12,
]
ROOK_MG = [  # a1 .. h8, White's view
       0,    0,    0,    8,    8,    0,    0,    0,
      -6,    0,    0,    8,    8,    0,    0,   -6,
      -6,    0,    0,    8,    8,    0,    0,   -6,
      -6,    0,    0,    8,    8,    0,    0,   -6,
      -6,    0,    0,    8,    8,    0,    0,   -6,
      -6,    0,    0,    8,    8,    0,    0,   -6,
      20,   20,   20,   28,   28,   20,   20,   20,
      -6,    0,    0,    8,    8,    0,    0,   -6,
]
ROOK_EG = [  # a1 .. h8, White's view
       0,    0,    0,    0,    0,    0,    0,    0,
       0,    0,    0,    0,    0,    0,    0,    0,
       0,    0,    0,    0,    0,    0,    0,    0,
       0,    0,    0,    0,    0,    0,    0,    0,
       3,    3,    3,    3,    3,    3,    3,    3,
       3,    3,    3,    3,    3,    3,    3,    3,
      13,   13,   13,   13,   13,   13,   13,   13,
       3,    3,    3,    3,    3,    3,    3,    3,
]
QUEEN_MG = [  # a1 .. h8, White's view
     -12,  -12,  -12,  -12,  -12,  -12,  -12,  -12,
     -12,   -4,   -4,   -4,   -4,   -4,   -4,  -12,
     -12,   -4,    2,    2,    2,    2,   -4,  -12,
     -12,   -4,    2,    5,    5,    2,   -4,  -12,
     -12,   -4,    2,    5,    5,    2,   -4,  -12,
     -12,   -4,    2,    2,    2,    2,   -4,  -12,
     -12,   -4,   -4,   -4,   -4,   -4,   -4,  -12,
     -12,  -12,  -12,  -12,  -12,  -12,  -12,  -12,
]
QUEEN_EG = [  # a1 .. h8, White's view
     -20,  -20,  -20,  -20,  -20,  -20,  -20,  -20,
     -20,   -6,   -6,   -6,   -6,   -6,   -6,  -20,
     -20,   -6,    6,    6,    6,    6,   -6,  -20,
     -20,   -6,    6,   14,   14,    6,   -6,  -20,
     -20,   -6,    6,   14,   14,    6,   -6,  -20,
     -20,   -6,    6,    6,    6,    6,   -6,  -20,
     -20,   -6,   -6,   -6,   -6,   -6,   -6,  -20,
     -20,  -20,  -20,  -20,  -20,  -20,  -20,  -20,
]
KING_MG = [  # a1 .. h8, White's view
      10,   25,   15,   -5,   -5,    5,   30,   15,
     -25,  -25,  -35,  -45,  -45,  -40,  -25,  -25,
     -60,  -60,  -60,  -60,  -60,  -60,  -60,  -60,
     -90,  -90,  -90,  -90,  -90,  -90,  -90,  -90,
    -100, -100, -100, -100, -100, -100, -100, -100,
    -110, -110, -110, -110, -110, -110, -110, -110,
    -120, -120, -120, -120, -120, -120, -120, -120,
    -130, -130, -130, -130, -130, -130, -130, -130,
]
KING_EG = [  # a1 .. h8, White's view
     -50,  -50,  -50,  -50,  -50,  -50,  -50,  -50,
     -50,  -15,  -15,  -15,  -15,  -15,  -15,  -50,
     -50,  -15,   10,   10,   10,   10,  -15,  -50,
     -50,  -15,   10,   25,   25,   10,  -15,  -50,
     -50,  -15,   10,   25,   25,   10,  -15,  -50,
     -50,  -15,   10,   10,   10,   10,  -15,  -50,
     -50,  -15,  -15,  -15,  -15,  -15,  -15,  -50,
     -50,  -50,  -50,  -50,  -50,  -50,  -50,  -50,
]

PST_MG = [[0] * 64, PAWN_MG, KNIGHT_MG, BISHOP_MG, ROOK_MG, QUEEN_MG, KING_MG]
PST_EG = [[0] * 64, PAWN_EG, KNIGHT_EG, BISHOP_EG, ROOK_EG, QUEEN_EG, KING_EG]


def _signed_tables(pst: list[list[int]], values: list[int]) -> list[list[list[int]]]:
    # [colour][piece type][square] -> value from White's view (material + square), negative for Black
    out = [[[0] * 64 for _ in range(7)] for _ in range(2)]
    for piece_type in range(1, 7):
        for square in range(64):
            out[chess.WHITE][piece_type][square] = values[piece_type] + pst[piece_type][square]
            out[chess.BLACK][piece_type][square] = -(values[piece_type] + pst[piece_type][square ^ 56])
    return out


# chess.WHITE is True (index 1), chess.BLACK is False (index 0)
MG_TABLE = _signed_tables(PST_MG, PIECE_VALUE_MG)
EG_TABLE = _signed_tables(PST_EG, PIECE_VALUE_EG)


def eval_terms(board: chess.Board) -> tuple[int, int, int]:
    """``(mg, eg, phase)``: middlegame and endgame sums from White's view and the phase (0..24+)."""
    mg = eg = phase = 0
    for colour in (chess.WHITE, chess.BLACK):
        mg_c, eg_c = MG_TABLE[colour], EG_TABLE[colour]
        occ = board.occupied_co[colour]
        for piece_type, bb in ((1, board.pawns), (2, board.knights), (3, board.bishops), (4, board.rooks),
                               (5, board.queens), (6, board.kings)):
            mg_t, eg_t = mg_c[piece_type], eg_c[piece_type]
            for square in chess.scan_forward(bb & occ):
                mg += mg_t[square]
                eg += eg_t[square]
                phase += PHASE_WEIGHT[piece_type]
    return mg, eg, phase


def blend(mg: int, eg: int, phase: int) -> int:
    """The tapered score from White's view."""
    if phase > PHASE_TOTAL:
        phase = PHASE_TOTAL
    return int((mg * phase + eg * (PHASE_TOTAL - phase)) / PHASE_TOTAL)   # truncation: same for both colours


def evaluate(board: chess.Board) -> int:
    """Static evaluation in centipawns for the side to move (no search, no mate detection)."""
    mg, eg, phase = eval_terms(board)
    score = blend(mg, eg, phase)
    return (score if board.turn == chess.WHITE else -score) + TEMPO


def move_delta(board: chess.Board, move: chess.Move) -> tuple[int, int, int]:
    """How ``move`` (legal, not yet played) changes ``eval_terms(board)``: ``(dmg, deg, dphase)``."""
    colour = board.turn
    frm, to = move.from_square, move.to_square
    piece_type = board.piece_type_at(frm) or 0   # a legal move always has a piece
    mg_c, eg_c = MG_TABLE[colour], EG_TABLE[colour]
    if piece_type == chess.KING and board.is_castling(move):
        rank = frm & 56
        if board.is_kingside_castling(move):
            king_to, rook_to = rank | 6, rank | 5
            rook_from = to if board.piece_type_at(to) == chess.ROOK and board.color_at(to) == colour else rank | 7
        else:
            king_to, rook_to = rank | 2, rank | 3
            rook_from = to if board.piece_type_at(to) == chess.ROOK and board.color_at(to) == colour else rank
        return (mg_c[6][king_to] - mg_c[6][frm] + mg_c[4][rook_to] - mg_c[4][rook_from],
                eg_c[6][king_to] - eg_c[6][frm] + eg_c[4][rook_to] - eg_c[4][rook_from], 0)
    dmg = mg_c[piece_type][to] - mg_c[piece_type][frm]
    deg = eg_c[piece_type][to] - eg_c[piece_type][frm]
    dphase = 0
    if move.promotion:
        dmg += mg_c[move.promotion][to] - mg_c[piece_type][to]
        deg += eg_c[move.promotion][to] - eg_c[piece_type][to]
        dphase += PHASE_WEIGHT[move.promotion]
    captured = board.piece_type_at(to)
    cap_square = to
    if captured is None and piece_type == chess.PAWN and to == board.ep_square and (frm & 7) != (to & 7):
        captured = chess.PAWN
        cap_square = to - 8 if colour == chess.WHITE else to + 8
    if captured:
        dmg -= MG_TABLE[not colour][captured][cap_square]
        deg -= EG_TABLE[not colour][captured][cap_square]
        dphase -= PHASE_WEIGHT[captured]
    return dmg, deg, dphase
