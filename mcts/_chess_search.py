"""Alpha-beta for chess on python-chess: PVS, transposition table, null move, late-move reductions,
check extension, quiescence on captures (MVV-LVA order) with check evasions, and the tapered
evaluation of :mod:`mcts._chess_eval` updated move by move.

It is a back end of ``mcts.AlphaBeta`` (the ``begin`` / ``search`` / ``pv`` interface) and takes a
``games.chess.ChessState`` or a bare ``chess.Board``. python-chess makes this a slow search (tens of
thousands of nodes per second); it is here for correctness and tactics, not strength.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Optional

import chess

from mcts._chess_eval import PHASE_TOTAL, TEMPO, eval_terms, move_delta

MATE = 1_000_000
MATE_BOUND = 999_000
INF = MATE + 1
MAX_PLY = 128
EXACT, LOWER, UPPER = 3, 2, 1
# MVV-LVA: victim value first, cheaper attacker first among equal victims
_VICTIM = [0, 100, 300, 300, 500, 900, 0]


def _key(move: chess.Move) -> int:
    return move.from_square | move.to_square << 6 | (move.promotion or 0) << 12


def board_of(state: Any) -> chess.Board:
    """The python-chess board of a ChessState (a copy) or of a bare board (a copy)."""
    if isinstance(state, chess.Board):
        return state.copy()
    board = getattr(state, "board", None)
    if callable(board):
        board = board()
    if not isinstance(board, chess.Board):
        raise ValueError(f"cannot read a chess board from {state!r}")
    return board.copy()


def _may_give_check(board: chess.Board, move: chess.Move, king: Optional[int], blockers: int) -> bool:
    """Whether a quiet move can give check, without playing it: a direct check by the moved piece
    from its new square, or a discovered one (the piece leaves a line to the enemy king, given as
    ``blockers``). Castling and en passant count as checking (conservative)."""
    if king is None:
        return False
    frm, to = move.from_square, move.to_square
    if blockers >> frm & 1:
        return True
    piece_type = board.piece_type_at(frm)
    king_bb = 1 << king
    if piece_type == chess.KNIGHT:
        return bool(chess.BB_KNIGHT_ATTACKS[to] & king_bb)
    if piece_type == chess.PAWN:
        return bool(chess.BB_PAWN_ATTACKS[board.turn][to] & king_bb) or board.is_en_passant(move)
    if piece_type == chess.KING:
        return board.is_castling(move)
    occ = (board.occupied & ~(1 << frm)) | (1 << to)
    if piece_type in (chess.BISHOP, chess.QUEEN) and chess.BB_DIAG_ATTACKS[to][chess.BB_DIAG_MASKS[to] & occ] & king_bb:
        return True
    if piece_type in (chess.ROOK, chess.QUEEN) and (
            (chess.BB_RANK_ATTACKS[to][chess.BB_RANK_MASKS[to] & occ] | chess.BB_FILE_ATTACKS[to][chess.BB_FILE_MASKS[to] & occ]) & king_bb):
        return True
    return False


class ChessSearch:
    """The chess back end of ``AlphaBeta``.

    Args:
        tt_entries: most transposition-table entries (a Python dict; about 160 bytes each).
        null_move: use null-move pruning (off for studies that hinge on zugzwang).
    """

    def __init__(self, *, tt_entries: int = 1 << 17, null_move: bool = True) -> None:
        self.tt_entries = int(tt_entries)
        self.null_move = null_move
        self.tt: dict[Any, tuple[int, int, int, Optional[chess.Move], int]] = {}
        self.history = [[0] * 64 for _ in range(64)]
        self.killers: list[list[Optional[chess.Move]]] = [[None, None] for _ in range(MAX_PLY + 2)]
        self.age = 0
        self.exact = False      # full-width (no reductions or pruning): mate searches
        self._stop = threading.Event()
        self.nodes = 0
        self.seldepth = 0
        self.stop_reason = ""

    # --- back-end interface -------------------------------------------------------------------
    def reset(self) -> None:
        self.tt.clear()
        self.history = [[0] * 64 for _ in range(64)]

    def stop(self) -> None:
        self._stop.set()

    def clear_stop(self) -> None:
        self._stop.clear()

    def begin(self, root: Any, node_limit: Optional[int] = None, deadline: Optional[float] = None) -> None:
        self.root_state = root
        self.board = board_of(root)
        self.root_fen_board = self.board.copy(stack=False)
        self.node_limit = node_limit
        self.deadline = deadline
        self.nodes = 0
        self.seldepth = 0
        self.stopped = False
        self.stop_reason = ""
        self.age += 1
        self.killers = [[None, None] for _ in range(MAX_PLY + 2)]
        # positions of the game since its last irreversible move, then the root: a search line that
        # returns to one of them is scored as a draw
        back = self.board.copy()
        earlier = []
        for _ in range(min(back.halfmove_clock, len(back.move_stack))):
            back.pop()
            earlier.append(back._transposition_key())
        self.path: list[Any] = earlier[::-1] + [self.board._transposition_key()]
        self.terms = eval_terms(self.board)
        self._pv: list[chess.Move] = []
        if len(self.tt) > self.tt_entries:
            self.tt.clear()

    def search(self, depth: int, alpha: int, beta: int) -> tuple[int, bool, int, int, int]:
        self.root_best: Optional[chess.Move] = None
        self.root_best_score = -INF
        self.root_done = 0
        mg, eg, phase = self.terms
        score, pv = self._negamax(0, depth, alpha, beta, True, mg, eg, phase, True)
        if not self.stopped:
            self._pv = pv
        best = self._action(self.root_best) if self.root_best is not None else -1
        return score, self.stopped, best, self.root_best_score, self.root_done

    def _full_pv(self) -> list[chess.Move]:
        # the searched PV, extended by the table's moves where a cutoff cut it short
        board = self.root_fen_board.copy(stack=False)
        line = []
        for move in self._pv:
            if not board.is_legal(move):
                break
            line.append(move)
            board.push(move)
        seen = set()
        while len(line) < MAX_PLY:
            key = board._transposition_key()
            entry = self.tt.get(key)
            if entry is None or entry[3] is None or key in seen or not board.is_legal(entry[3]):
                break
            seen.add(key)
            line.append(entry[3])
            board.push(entry[3])
        return line

    def pv(self) -> list[int]:
        board = self.root_fen_board.copy(stack=False)
        out = []
        for move in self._full_pv():
            out.append(self._action(move, board))
            board.push(move)
        return out

    def value_of(self, score: int) -> float:
        if abs(score) > MATE_BOUND:
            return 1.0 if score > 0 else -1.0
        return 2.0 / (1.0 + 10.0 ** (-score / 400.0)) - 1.0

    def _action(self, move: chess.Move, board: Optional[chess.Board] = None) -> int:
        from games.chess_encoding import move_to_action
        return move_to_action(move, board if board is not None else self.root_fen_board)

    # --- search --------------------------------------------------------------------------------
    def _check(self) -> bool:
        if self.node_limit is not None and self.nodes >= self.node_limit:
            self.stopped, self.stop_reason = True, "nodes"
        elif self.nodes & 3 == 0:
            if self._stop.is_set():
                self.stopped, self.stop_reason = True, "stopped"
            elif self.deadline is not None and time.monotonic() >= self.deadline:
                self.stopped, self.stop_reason = True, "time"
        return self.stopped

    def _static(self, mg: int, eg: int, phase: int) -> int:
        p = phase if phase < PHASE_TOTAL else PHASE_TOTAL
        score = int((mg * p + eg * (PHASE_TOTAL - p)) / PHASE_TOTAL)
        return (score if self.board.turn else -score) + TEMPO

    def _order(self, moves: list[chess.Move], tt_move: Optional[chess.Move], ply: int) -> list[chess.Move]:
        board = self.board
        killers = self.killers[ply]
        k0 = _key(killers[0]) if killers[0] is not None else -1
        k1 = _key(killers[1]) if killers[1] is not None else -1
        tk = _key(tt_move) if tt_move is not None else -1
        history = self.history
        piece_type_at = board.piece_type_at
        theirs = board.occupied_co[not board.turn]
        keyed = []
        for m in moves:
            frm, to, promo = m.from_square, m.to_square, m.promotion
            k = frm | to << 6 | (promo or 0) << 12
            if k == tk:
                s = 1 << 40
            elif theirs >> to & 1:
                s = (1 << 30) + _VICTIM[piece_type_at(to) or 0] * 16 - (piece_type_at(frm) or 0)
            elif promo:
                s = (1 << 30) + (promo == chess.QUEEN) * 800
            elif k == k0:
                s = 1 << 29
            elif k == k1:
                s = (1 << 29) - 1
            else:
                s = history[frm][to]
            keyed.append((s, m))
        keyed.sort(key=lambda t: -t[0])
        return [m for _, m in keyed]

    def _staged(self, tt_move: Optional[chess.Move], ply: int):
        """Legal moves in stages, each stage generated only when reached: the table move, captures
        (MVV-LVA), then quiet moves (queen promotions, killers, history). Yields ``(move, is_quiet)``."""
        board = self.board
        tk = -1
        if tt_move is not None:
            tk = _key(tt_move)
            yield tt_move, not board.is_capture(tt_move) and not tt_move.promotion
        them = board.occupied_co[not board.turn]
        piece_type_at = board.piece_type_at
        keyed = []
        for m in board.generate_legal_moves(chess.BB_ALL, them):
            frm, to = m.from_square, m.to_square
            if frm | to << 6 | (m.promotion or 0) << 12 != tk:
                keyed.append((_VICTIM[piece_type_at(to) or chess.PAWN] * 16 - (piece_type_at(frm) or 0) + (900 if m.promotion else 0), m))
        keyed.sort(key=lambda t: -t[0])
        for _, m in keyed:
            yield m, False
        killers = self.killers[ply]
        k0 = _key(killers[0]) if killers[0] is not None else -1
        k1 = _key(killers[1]) if killers[1] is not None else -1
        history = self.history
        keyed = []
        for m in board.generate_legal_moves(chess.BB_ALL, ~them & chess.BB_ALL):
            frm, to, promo = m.from_square, m.to_square, m.promotion
            k = frm | to << 6 | (promo or 0) << 12
            if k == tk:
                continue
            if promo:
                s = (1 << 30) + (promo == chess.QUEEN) * 800
            elif k == k0:
                s = 1 << 29
            elif k == k1:
                s = (1 << 29) - 1
            else:
                s = history[frm][to]
            keyed.append((s, m))
        keyed.sort(key=lambda t: -t[0])
        for _, m in keyed:
            yield m, not m.promotion and not board.is_en_passant(m)

    def _qsearch(self, ply: int, alpha: int, beta: int, mg: int, eg: int, phase: int, qply: int) -> int:
        board = self.board
        self.nodes += 1
        if ply > self.seldepth:
            self.seldepth = ply
        if self._check():
            return 0
        in_check = board.is_check()
        if in_check and qply < 8:
            moves = list(board.generate_legal_moves())
            if not moves:
                return -(MATE - ply)
            best = -INF
            moves = self._order(moves, None, ply)
        else:
            stand = self._static(mg, eg, phase)
            if stand >= beta or ply >= MAX_PLY - 1:
                return stand
            if stand > alpha:
                alpha = stand
            best = stand
            piece_type_at = board.piece_type_at
            keyed = []
            for m in board.generate_legal_captures():
                victim = piece_type_at(m.to_square) or chess.PAWN   # None: en passant
                # delta pruning: even winning the piece cannot lift the score to alpha
                if not m.promotion and stand + _VICTIM[victim] + 200 <= alpha:
                    continue
                keyed.append((_VICTIM[victim] * 16 - (piece_type_at(m.from_square) or 0) + (900 if m.promotion else 0), m))
            keyed.sort(key=lambda t: -t[0])
            moves = [m for _, m in keyed]
        for m in moves:
            dmg, deg, dph = move_delta(board, m)
            board.push(m)
            score = -self._qsearch(ply + 1, -beta, -alpha, mg + dmg, eg + deg, phase + dph, qply + 1)
            board.pop()
            if self.stopped:
                return 0
            if score > best:
                best = score
                if score > alpha:
                    alpha = score
                    if score > MATE_BOUND:
                        # a mate found here: keep its move so that the PV can be followed to the end
                        key = board._transposition_key()
                        if key not in self.tt:
                            self.tt[key] = (0, LOWER, score + ply, m, self.age)
                    if score >= beta:
                        break
        return best

    def _negamax(self, ply: int, depth: int, alpha: int, beta: int, is_pv: bool, mg: int, eg: int,
                 phase: int, allow_null: bool) -> tuple[int, list[chess.Move]]:
        board = self.board
        if ply > 0:
            if board.halfmove_clock >= 100:
                return 0, []
            key = self.path[-1]
            # a repetition of a position on the search path is scored a draw
            path = self.path
            for i in range(len(path) - 3, max(-1, len(path) - 2 - board.halfmove_clock), -2):
                if path[i] == key:
                    return 0, []
        else:
            key = self.path[-1]
        in_check = board.is_check()
        if in_check:
            depth += 1
        if depth <= 0:
            return self._qsearch(ply, alpha, beta, mg, eg, phase, 0), []
        self.nodes += 1
        if ply > self.seldepth:
            self.seldepth = ply
        if self._check():
            return 0, []
        if ply > 0:
            if alpha < -(MATE - ply):
                alpha = -(MATE - ply)
            if beta > MATE - ply - 1:
                beta = MATE - ply - 1
            if alpha >= beta:
                return alpha, []
        alpha0 = alpha
        entry = self.tt.get(key)
        tt_move = None
        if entry is not None:
            tt_move = entry[3]
            if ply > 0 and not is_pv and entry[0] >= depth:
                score = entry[2]
                if score > MATE_BOUND:
                    score -= ply
                elif score < -MATE_BOUND:
                    score += ply
                flag = entry[1]
                if flag == EXACT or (flag == LOWER and score >= beta) or (flag == UPPER and score <= alpha):
                    return score, []
        # null move: if passing still holds beta, a real move will too (not in check, not in pawn endings)
        if (self.null_move and not self.exact and allow_null and not is_pv and not in_check and depth >= 3 and ply > 0
                and abs(beta) < MATE_BOUND and board.occupied_co[board.turn] & ~(board.pawns | board.kings)
                and self._static(mg, eg, phase) >= beta):
            board.push(chess.Move.null())
            self.path.append(board._transposition_key())
            score, _ = self._negamax(ply + 1, depth - 3, -beta, -beta + 1, False, mg, eg, phase, False)
            self.path.pop()
            board.pop()
            if self.stopped:
                return 0, []
            if -score >= beta:
                return beta, []
        best, best_move, best_pv = -INF, None, []
        killers = self.killers[ply]
        # futility: at the frontier, a quiet move that does not check cannot lift a hopeless score
        futile = (not self.exact and depth <= 2 and not is_pv and not in_check and abs(alpha) < MATE_BOUND
                  and self._static(mg, eg, phase) + 120 * depth <= alpha)
        i = -1
        their_king = board.king(not board.turn)
        blockers = -1
        for m, is_quiet in self._staged(tt_move, ply):
            i += 1
            prunable = is_quiet and i > 0 and (futile or (not self.exact and i >= 3 and depth >= 3 and not in_check))
            if prunable:
                if blockers < 0:
                    blockers = board._slider_blockers(their_king) & board.occupied_co[board.turn] if their_king is not None else 0
                if _may_give_check(board, m, their_king, blockers):
                    prunable = False
            if futile and prunable:
                if best < alpha:
                    best = alpha
                continue
            dmg, deg, dph = move_delta(board, m)
            reduce = 0
            if prunable and i >= 3 and depth >= 3 and m != killers[0] and m != killers[1]:
                reduce = 1 if i < 8 else 2
            board.push(m)
            self.path.append(board._transposition_key())
            nmg, neg, nph = mg + dmg, eg + deg, phase + dph
            if i == 0:
                score, cpv = self._negamax(ply + 1, depth - 1, -beta, -alpha, is_pv, nmg, neg, nph, True)
                score = -score
            else:
                score, cpv = self._negamax(ply + 1, depth - 1 - reduce, -alpha - 1, -alpha, False, nmg, neg, nph, True)
                score = -score
                if score > alpha and reduce and not self.stopped:
                    score, cpv = self._negamax(ply + 1, depth - 1, -alpha - 1, -alpha, False, nmg, neg, nph, True)
                    score = -score
                if alpha < score < beta and not self.stopped:
                    score, cpv = self._negamax(ply + 1, depth - 1, -beta, -alpha, is_pv, nmg, neg, nph, True)
                    score = -score
            self.path.pop()
            board.pop()
            if self.stopped:
                return 0, []
            if ply == 0:
                self.root_done += 1
            if score > best:
                best, best_move, best_pv = score, m, [m] + cpv
                if score > alpha:
                    alpha = score
                    if ply == 0:
                        self.root_best, self.root_best_score = m, score
                    if score >= beta:
                        if is_quiet:
                            if m != killers[0]:
                                killers[1], killers[0] = killers[0], m
                            h = self.history[m.from_square]
                            h[m.to_square] += depth * depth
                            if h[m.to_square] > 1 << 24:
                                self.history = [[v >> 1 for v in row] for row in self.history]
                        break
        if i < 0:
            return (-(MATE - ply) if in_check else 0), []
        if ply == 0 and self.root_best is None:
            self.root_best, self.root_best_score = best_move, best
        flag = LOWER if best >= beta else (EXACT if best > alpha0 else UPPER)
        stored = best + ply if best > MATE_BOUND else (best - ply if best < -MATE_BOUND else best)
        old = self.tt.get(key)
        if old is None or old[0] <= depth or old[4] != self.age:
            if old is not None or len(self.tt) < self.tt_entries:
                self.tt[key] = (depth, flag, stored, best_move, self.age)
        return best, best_pv
