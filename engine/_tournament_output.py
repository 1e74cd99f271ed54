"""Tournament output: the JSON-lines game log (crash-safe appends), PGN, cross table, report and plot."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from engine._tournament_ratings import Ratings, Sprt, SprtResult, fit_elo, los, pair_bin

RESULT_TEXT = {1: "1-0", -1: "0-1", 0: "1/2-1/2"}


# ---------------------------------------------------------------------------------------------
# JSON lines


def append_record(path: Path, record: dict) -> None:
    """Appends one game as a JSON line and forces it to disk before returning."""
    line = json.dumps(record, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_records(path: Path, *, repair: bool = False) -> list[dict]:
    """The games of a JSON-lines log, one record per game index (the first one wins).

    A last line cut off by a kill is dropped; with ``repair`` the file is truncated to the last
    complete line so that later appends start on a fresh line.

    Raises:
        ValueError: a damaged line that is not the last one.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    records: dict[int, dict] = {}
    good_end = 0
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # an unterminated last line: the process died while writing it
        line = data[pos:nl].strip()
        if line:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: damaged record at byte {pos}: {exc}") from None
            records.setdefault(int(rec["index"]), rec)
        pos = nl + 1
        good_end = pos
    if repair and good_end < len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return [records[k] for k in sorted(records)]


# ---------------------------------------------------------------------------------------------
# tables


def results_table(names: Sequence[str], records: Iterable[dict]) -> np.ndarray:
    """``[P, P, 3]`` wins/draws/losses of row against column, both halves filled."""
    idx = {n: i for i, n in enumerate(names)}
    t = np.zeros((len(names), len(names), 3))
    for rec in records:
        a, b = (idx[n] for n in rec["players"])
        r = _sign(rec["returns"][0] - rec["returns"][1])
        t[a, b, 1 - r] += 1
        t[b, a, 1 + r] += 1
    return t


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def pentanomial(records: Iterable[dict], player: str, opponent: str) -> list[int]:
    """Pentanomial counts of ``player`` against ``opponent`` over their complete game pairs."""
    by_pair: dict[int, list[float]] = {}
    for rec in records:
        if set(rec["players"]) != {player, opponent} or player == opponent:
            continue
        seat = rec["players"].index(player)
        r = _sign(rec["returns"][seat] - rec["returns"][1 - seat])
        by_pair.setdefault(int(rec["pair"]), []).append((r + 1) / 2)
    counts = [0] * 5
    for points in by_pair.values():
        if len(points) == 2:
            counts[pair_bin(sum(points))] += 1
    return counts


def ratings_of(names: Sequence[str], records: Sequence[dict], prior_draws: float = 1.0) -> Ratings:
    return fit_elo(names, results_table(names, records), prior_draws=prior_draws)


def format_ratings(r: Ratings) -> str:
    """Rank, Elo with 95% error, games, score, draws and LOS over the next player."""
    order = np.argsort(-r.elo)
    lines = [f"{'rank':>4}  {'player':<20} {'Elo':>7} {'+/-95%':>7} {'games':>6} {'score':>7} {'draws':>6} {'LOS next':>8}"]
    for rank, i in enumerate(order, 1):
        nxt = order[rank] if rank < len(order) else None
        los_next = f"{100 * r.los(r.names[i], r.names[nxt]):7.1f}%" if nxt is not None else ""
        games = r.games[i]
        score = 100 * r.score[i] / games if games else 0.0
        draws = 100 * r.draws[i] / games if games else 0.0
        err = f"{r.error[i]:7.1f}" if np.isfinite(r.error[i]) else "    inf"
        lines.append(f"{rank:>4}  {r.names[i]:<20} {r.elo[i]:7.1f} {err} {int(games):>6} {score:6.1f}% {draws:5.1f}% {los_next:>8}")
    return "\n".join(lines)


def format_cross_table(r: Ratings, table: np.ndarray) -> str:
    """Points scored by each row against each column, out of the games they played, ranked by Elo."""
    order = list(np.argsort(-r.elo))
    short = [f"{k + 1}" for k in range(len(order))]
    head = f"{'':>3} {'player':<20} {'Elo':>7} " + " ".join(f"{s:>9}" for s in short)
    lines = [head]
    for k, i in enumerate(order):
        cells = []
        for j in order:
            if i == j:
                cells.append(f"{'-':>9}")
                continue
            w, d, l = table[i, j]
            n = w + d + l
            cells.append(f"{_pts(w + d / 2)}/{int(n)}".rjust(9) if n else f"{'':>9}")
        lines.append(f"{k + 1:>3} {r.names[i]:<20} {r.elo[i]:7.1f} " + " ".join(cells))
    return "\n".join(lines)


def _pts(x: float) -> str:
    return f"{x:g}"


def format_los_matrix(r: Ratings) -> str:
    order = list(np.argsort(-r.elo))
    lines = [f"{'':<20} " + " ".join(f"{r.names[j][:8]:>8}" for j in order)]
    for i in order:
        cells = [f"{'':>8}" if i == j else f"{100 * r.los(r.names[i], r.names[j]):7.1f}%" for j in order]
        lines.append(f"{r.names[i]:<20} " + " ".join(cells))
    return "\n".join(lines)


def termination_counts(records: Iterable[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for rec in records:
        out[rec["termination"]] = out.get(rec["termination"], 0) + 1
    return dict(sorted(out.items()))


def format_sprt(sprt: Sprt, status: SprtResult, player: str, opponent: str) -> str:
    verdict = {"H1": "H1 accepted (passed)", "H0": "H0 accepted (failed)", None: "running / undecided"}[status.decision]
    return (f"SPRT {player} vs {opponent}: elo0={sprt.elo0:g} elo1={sprt.elo1:g} alpha={sprt.alpha:g} beta={sprt.beta:g}\n"
            f"  LLR {status.llr:.3f} in [{status.lower:.3f}, {status.upper:.3f}]: {verdict}\n"
            f"  pentanomial (0, 1/2, 1, 3/2, 2 points per pair): {list(status.pairs)}")


def report_text(
    names: Sequence[str],
    records: Sequence[dict],
    *,
    title: str,
    scheduled: int,
    sprt: Optional[Sprt] = None,
    prior_draws: float = 1.0,
) -> str:
    """The whole text report: ratings, cross table, LOS, how games ended, SPRT."""
    r = ratings_of(names, records, prior_draws)
    table = results_table(names, records)
    parts = [f"# {title}", "", f"games: {len(records)} of {scheduled} scheduled", "",
             "## Ratings (Elo, 95% interval, maximum likelihood over all games)", "", "```", format_ratings(r), "```",
             "", "## Cross table (points / games)", "", "```", format_cross_table(r, table), "```"]
    if len(names) > 2:
        parts += ["", "## Likelihood of superiority (row stronger than column)", "", "```", format_los_matrix(r), "```"]
    if len(names) == 2:
        w, d, l = table[0, 1]
        parts += ["", f"{names[0]} vs {names[1]}: +{int(w)} ={int(d)} -{int(l)}, LOS (wins/losses) {100 * los(w, l):.1f}%"]
    parts += ["", "## Terminations", "", "```"]
    parts += [f"{k:<20} {v}" for k, v in termination_counts(records).items()] + ["```"]
    if sprt is not None and len(names) >= 2:
        status = sprt.status(pentanomial(records, names[0], names[1]))
        parts += ["", "## SPRT", "", "```", format_sprt(sprt, status, names[0], names[1]), "```"]
    return "\n".join(parts) + "\n"


def plot_ratings(r: Ratings, path: Path, title: str = "Elo ratings") -> None:
    """A PNG of the ratings with their 95% intervals (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = list(np.argsort(r.elo))
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.45 * len(order)))
    err = np.where(np.isfinite(r.error), r.error, 0.0)
    ax.errorbar(r.elo[order], range(len(order)), xerr=err[order], fmt="o", capsize=4)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([r.names[i] for i in order])
    ax.axvline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("Elo (mean 0), 95% interval")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# PGN


def pgn_text(record: dict, *, event: str, chess960: bool = False) -> str:
    """One chess game record as PGN (python-chess ``chess.pgn``), readable by any chess GUI."""
    import chess
    import chess.pgn

    board = chess.Board(record["start"], chess960=chess960) if record.get("start") else chess.Board(chess960=chess960)
    game = chess.pgn.Game()
    game.headers["Event"] = event
    game.headers["Site"] = "plytree"
    game.headers["Date"] = record.get("date", "????.??.??")[:10].replace("-", ".")
    game.headers["Round"] = f"{record['round'] + 1}.{record['index'] + 1}"
    game.headers["White"] = record["players"][0]
    game.headers["Black"] = record["players"][1]
    game.headers["Result"] = record["result"]
    if board.fen() != chess.STARTING_FEN or chess960:
        game.setup(board)
    if chess960:
        game.headers["Variant"] = "Chess960"
    game.headers["Termination"] = record["termination"]
    game.headers["PlyCount"] = str(len(record["moves"]))
    if record.get("time_control"):
        game.headers["TimeControl"] = record["time_control"]
    if record.get("opening"):
        game.headers["Opening"] = record["opening"]
    node: chess.pgn.GameNode = game
    for i, uci in enumerate(record["moves"]):
        move = board.parse_uci(uci)
        board.push(move)
        node = node.add_variation(move)
        score = record["scores"][i] if i < len(record.get("scores", [])) else None
        secs = record["seconds"][i] if i < len(record.get("seconds", [])) else None
        bits = []
        if score is not None:
            bits.append(f"{score:+.2f}")
        if secs is not None:
            bits.append(f"{secs:.2f}s")
        if bits:
            node.comment = "/".join(bits)
    game.comment = record["reason"] if record["termination"] != "normal" else ""
    exporter = chess.pgn.StringExporter(headers=True, variations=False, comments=True)
    return game.accept(exporter) + "\n\n"


def write_pgn(path: Path, records: Sequence[dict], *, event: str, chess960: bool = False) -> None:
    """Writes every record to ``path`` in game order (atomically: a temporary file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in sorted(records, key=lambda r: r["index"]):
            f.write(pgn_text(rec, event=event, chess960=chess960))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
