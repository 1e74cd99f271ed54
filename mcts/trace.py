"""Search traces: any search's tree as JSON and as MAV-style linearised text (docs/llm.md, "Agents").

A trace is a dict ``{"format": "plytree-trace/1", "kind": "agent" | "game", "env": NAME,
"task": ID, "answer": TEXT, "nodes": [NODE, ...], ...}`` whose nodes (root first, parents before
children) carry ``id``, ``parent``, ``move`` (text; None at the root), ``visits``, ``value`` (mean
value in [0, 1] for agents, in [-1, 1] for the player to move at a game's root), and optionally
``prior``, ``reward``, ``terminal``, ``explanation`` and ``state``.

The linear text is one line per node in preorder (a child's subtree follows it), for training a
model on search (MAV's "internal search"):

    trace  := header LF line* footer
    header := "<trace kind=" WORD " env=" WORD " task=" JSONSTR ">"
    line   := "[" DEPTH "] " JSONSTR " N=" INT " Q=" NUM [" P=" NUM] [" R=" NUM] LF
    footer := "<answer " JSONSTR ">"

``DEPTH`` counts moves from the root (the root's line is ``[0] ""``), ``JSONSTR`` is a JSON string (so
moves may hold spaces and newlines), ``N`` visits, ``Q`` mean value, ``P`` prior, ``R`` reward of a
finished state; numbers are written with 4 decimals. Siblings are listed most visited first.
``from_linear`` reads it back into a trace whose nodes hold the fields the text carries.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from mcts._limit import SearchResult

FORMAT = "plytree-trace/1"
_LINE = re.compile(r'^\[(\d+)\] ("(?:[^"\\]|\\.)*") N=(\d+) Q=(-?[\d.]+|nan)(?: P=(-?[\d.]+))?(?: R=(-?[\d.]+))?$')
_HEADER = re.compile(r'^<trace kind=(\S+) env=(\S+) task=("(?:[^"\\]|\\.)*")>$')
_FOOTER = re.compile(r'^<answer ("(?:[^"\\]|\\.)*")>$')


class TraceError(ValueError):
    """A trace (JSON or text) is malformed."""


def agent_trace(result: Any) -> dict:
    """The trace of an ``mcts.agent_search.AgentResult``."""
    return {"format": FORMAT, "kind": "agent", "env": result.env, "task": result.task_id, "answer": result.answer,
            "reward": result.reward, "solved": result.solved, "stop_reason": result.stop_reason,
            "spent": result.spent, "nodes": [dict(n) for n in result.nodes_data]}


def game_trace(game_name: str, state: Any, result: SearchResult) -> dict:
    """The trace of a game search (``mcts.MCTS``, ``mcts.AlphaBeta``): the root and its moves.

    The compiled searches keep their trees in C; the trace holds what ``SearchResult`` reports: the
    root's children with visits, mean values and priors (MCTS), and the principal variation as a
    chain below the best move.
    """
    root_value = float(result.value)
    nodes: list[dict] = [{"id": 0, "parent": -1, "move": None, "visits": int(sum(result.visits) or result.nodes),
                          "value": root_value, "state": state.serialize()}]
    index: dict[int, int] = {}
    for k, a in enumerate(result.actions):
        q = result.q_values[k] if k < len(result.q_values) else float("nan")
        node: dict[str, Any] = {"id": len(nodes), "parent": 0, "move": state.action_to_string(a),
                "visits": int(result.visits[k]) if k < len(result.visits) else 0,
                "value": None if q is None or math.isnan(q) else float(q)}
        if k < len(result.priors):
            node["prior"] = float(result.priors[k])
        index[a] = node["id"]
        nodes.append(node)
    if result.pv:
        s = state.clone()
        parent = index.get(result.pv[0])
        if parent is None:
            parent = len(nodes)
            nodes.append({"id": parent, "parent": 0, "move": s.action_to_string(result.pv[0]), "visits": 0,
                          "value": None})
        s.apply_action(result.pv[0])
        for a in result.pv[1:]:
            if s.is_terminal():
                break
            nodes.append({"id": len(nodes), "parent": parent, "move": s.action_to_string(a), "visits": 0,
                          "value": None, "pv": True})
            parent = len(nodes) - 1
            s.apply_action(a)
    best = state.action_to_string(result.best_action) if result.best_action >= 0 else ""
    return {"format": FORMAT, "kind": "game", "env": game_name, "task": state.serialize(), "answer": best,
            "stop_reason": result.stop_reason, "nodes": nodes}


def _num(x: Any) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{float(x):.4f}"


def check_trace(trace: Any) -> dict:
    """``trace`` checked: a dict of this format whose nodes' parents come first.

    Raises:
        TraceError: it is not.
    """
    if not isinstance(trace, dict) or trace.get("format") != FORMAT or not isinstance(trace.get("nodes"), list):
        raise TraceError(f"not a {FORMAT} trace")
    ids: set[int] = set()
    for n in trace["nodes"]:
        if not isinstance(n, dict) or "id" not in n or "parent" not in n:
            raise TraceError(f"a trace node needs 'id' and 'parent': {str(n)[:80]}")
        if n["parent"] != -1 and n["parent"] not in ids:
            raise TraceError(f"node {n['id']} comes before its parent {n['parent']}")
        ids.add(n["id"])
    return trace


def to_linear(trace: dict) -> str:
    """The trace as linearised text (grammar in the module docstring)."""
    check_trace(trace)
    kids: dict[int, list[dict]] = {}
    roots: list[dict] = []
    for n in trace["nodes"]:
        (roots if n["parent"] == -1 else kids.setdefault(n["parent"], [])).append(n)
    lines = [f"<trace kind={trace.get('kind', 'agent')} env={trace.get('env', '-')} "
             f"task={json.dumps(str(trace.get('task', '')))}>"]
    stack = [(r, 0) for r in reversed(roots)]
    while stack:
        n, depth = stack.pop()
        line = f"[{depth}] {json.dumps(n.get('move') or '')} N={int(n.get('visits') or 0)} Q={_num(n.get('value'))}"
        if n.get("prior") is not None:
            line += f" P={_num(n['prior'])}"
        if n.get("reward") is not None:
            line += f" R={_num(n['reward'])}"
        lines.append(line)
        order = sorted(kids.get(n["id"], []), key=lambda c: (-(c.get("visits") or 0), c["id"]))
        stack.extend((c, depth + 1) for c in reversed(order))
    lines.append(f"<answer {json.dumps(str(trace.get('answer') or ''))}>")
    return "\n".join(lines) + "\n"


def from_linear(text: str) -> dict:
    """Reads linearised text back into a trace (moves, visits, values, priors, rewards).

    Raises:
        TraceError: the text does not follow the grammar.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        raise TraceError("a linear trace needs a header and an answer line")
    head = _HEADER.match(lines[0])
    foot = _FOOTER.match(lines[-1])
    if head is None or foot is None:
        raise TraceError(f"bad linear trace header or footer: {lines[0][:80]!r} / {lines[-1][:80]!r}")
    nodes: list[dict] = []
    parents: list[int] = []  # the open node at each depth
    for ln in lines[1:-1]:
        m = _LINE.match(ln)
        if m is None:
            raise TraceError(f"bad linear trace line: {ln[:80]!r}")
        depth = int(m.group(1))
        if depth > len(parents) or (depth == 0 and nodes):
            raise TraceError(f"depth {depth} does not follow the line before: {ln[:80]!r}")
        move = json.loads(m.group(2))
        q = None if m.group(4) == "nan" else float(m.group(4))
        node: dict[str, Any] = {"id": len(nodes), "parent": parents[depth - 1] if depth else -1, "move": move or None,
                "visits": int(m.group(3)), "value": q}
        if m.group(5) is not None:
            node["prior"] = float(m.group(5))
        if m.group(6) is not None:
            node["reward"] = float(m.group(6))
        del parents[depth:]
        parents.append(len(nodes))
        nodes.append(node)
    return {"format": FORMAT, "kind": head.group(1), "env": head.group(2), "task": json.loads(head.group(3)),
            "answer": json.loads(foot.group(1)), "nodes": nodes}


def save_trace(trace: dict, path: str | os.PathLike) -> Path:
    """Writes ``trace`` as JSON (``.json``) or linear text (any other suffix); returns the path."""
    path = Path(path)
    if path.suffix == ".json":
        path.write_text(json.dumps(check_trace(trace), indent=1) + "\n", encoding="utf-8")
    else:
        path.write_text(to_linear(trace), encoding="utf-8")
    return path


def load_trace(path: str | os.PathLike) -> dict:
    """Reads a trace written by ``save_trace``.

    Raises:
        TraceError: the file holds no trace.
    """
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            return check_trace(json.loads(text))
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: not JSON: {exc}") from exc
    return from_linear(text)
