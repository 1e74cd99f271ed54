"""``plytree serve``: a local web page to play a game against a player and watch the analysis.

The server is the standard library's ``ThreadingHTTPServer`` with a small JSON API; the page is three
static files (``engine/static/``) with no build step. A heavier stack (Starlette, aiohttp) would add
dependencies for what four JSON endpoints need; WebSockets are not needed either, since the page asks
for the analysis itself, deeper and deeper, and shows each answer as it comes (see
``engine/static/app.js``). Every analysis goes through :func:`engine.analysis.analyse`, the function
behind ``plytree analysis``, so the page and the line protocol give the same answers.

Endpoints (POST bodies and answers are JSON):

* ``GET /`` and ``GET /static/<file>``: the page.
* ``GET /api/games``: the games the page offers.
* ``POST /api/state`` ``{game, gameParams?, moves}``: the position: legal moves, whose turn, the
  result, a text drawing and, for the board games, a grid to draw and click.
* ``POST /api/move`` ``{game, gameParams?, moves, player}``: the move of a player spec
  (``plytree play``'s syntax) in that position.
* ``POST /api/analysis``: an analysis query (``docs/analysis.md``); the answer or ``{"error": ...}``.

Bad requests get status 400 with ``{"error": {"code", "message"}}``; the server never dies of one.
"""
from __future__ import annotations

import json
import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from engine.analysis import AnalysisError, analyse, build_position, error_response, load_game, parse_limit

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 1 << 20
# the games of the page: name -> (label, params); OpenSpiel games work through the API too
PAGE_GAMES: dict[str, dict[str, Any]] = {
    "connect4": {"label": "Connect Four", "params": {}},
    "tictactoe": {"label": "Tic-tac-toe", "params": {}},
    "hex": {"label": "Hex 7x7", "params": {"board_size": 7}},
    "chess": {"label": "Chess", "params": {}},
}
DEFAULT_MOVE_LIMIT = {"simulations": 400}


def board_grid(state) -> Optional[dict[str, Any]]:
    """A grid for the page to draw, or None for games it shows as text.

    Returns:
        ``{"kind", "rows", "cols", "cells": [[""|"x"|"o"]], "actions": [[action or null]]}``; a click
        on cell (r, c) plays ``actions[r][c]`` (Connect Four: any cell of a column plays the column).
    """
    name = state.game.name
    history = state.history()
    if name == "tictactoe":
        cells = [[""] * 3 for _ in range(3)]
        for i, a in enumerate(history):
            cells[a // 3][a % 3] = "xo"[i % 2]
        return {"kind": name, "rows": 3, "cols": 3, "cells": cells,
                "actions": [[r * 3 + c for c in range(3)] for r in range(3)]}
    if name == "connect4":
        rows, cols = 6, 7
        cells = [[""] * cols for _ in range(rows)]
        height = [0] * cols
        for i, a in enumerate(history):
            cells[rows - 1 - height[a]][a] = "xo"[i % 2]
            height[a] += 1
        return {"kind": name, "rows": rows, "cols": cols, "cells": cells,
                "actions": [[c for c in range(cols)] for _ in range(rows)]}
    if name == "hex":
        n = state.game.board_size
        cells = [[""] * n for _ in range(n)]
        for i, a in enumerate(history):
            if a == n * n:  # swap: player 0's first stone becomes player 1's on the mirror cell
                r, c = divmod(history[0], n)
                cells[r][c] = ""
                cells[c][r] = "o"
            else:
                cells[a // n][a % n] = "xo"[i % 2]
        return {"kind": name, "rows": n, "cols": n, "cells": cells,
                "actions": [[r * n + c for c in range(n)] for r in range(n)]}
    return None


def describe(state, move_texts: list[str]) -> dict[str, Any]:
    """What the page shows of a position reached by moves whose texts are ``move_texts``."""
    terminal = state.is_terminal()
    legal = [] if terminal else state.legal_actions()
    return {"game": state.game.name, "position": state.serialize(), "moveTexts": move_texts,
            "toMove": None if terminal else state.current_player(),
            "isTerminal": terminal, "returns": [float(r) for r in state.returns()] if terminal else None,
            "legal": [{"action": a, "move": state.action_to_string(a)} for a in legal],
            "text": state.to_text(), "grid": board_grid(state)}


def _position(body: dict):
    game = load_game(body.get("game"), body.get("gameParams"))
    return build_position(game, body.get("position"), body.get("moves"))


def _describe_request(body: dict) -> dict[str, Any]:
    state = _position(body)  # checks the position and every move
    replay = build_position(state.game, body.get("position"), [])
    texts = []
    for move in body.get("moves") or []:
        action = move if isinstance(move, int) else replay.string_to_action(move)
        texts.append(replay.action_to_string(action))
        replay.apply_action(action)
    return describe(state, texts)


def engine_move(body: dict) -> dict[str, Any]:
    """The move of ``body["player"]`` in the position of ``body`` (with ``limit`` or the spec's own)."""
    from engine._factory import make_player

    state = _position(body)
    if state.is_terminal():
        raise AnalysisError("bad_position", "the game is over")
    spec = body.get("player", "mcts")
    if not isinstance(spec, str) or not spec.strip():
        raise AnalysisError("bad_query", f"player must be a player spec, got {spec!r}")
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise AnalysisError("bad_query", f"seed must be a non-negative integer, got {seed!r}")
    try:
        player = make_player(spec, state.game, seed=seed,
                             limit_defaults={"simulations": DEFAULT_MOVE_LIMIT["simulations"], "movetime": 1.0})
    except ValueError as exc:
        raise AnalysisError("unsupported", f"player {spec!r}: {exc}") from exc
    if spec.strip().lower() == "human":
        raise AnalysisError("bad_query", "the page is the human; give an engine player")
    limit = parse_limit(body["limit"]) if body.get("limit") is not None else player.default_limit
    decision = player.choose(state.clone(), limit)
    action = int(decision.action)
    if action not in state.legal_actions():
        raise AnalysisError("internal", f"player {spec!r} chose the illegal action {action}")
    return {"action": action, "move": state.action_to_string(action)}


class _Handler(BaseHTTPRequestHandler):
    server_version = "plytree-serve"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, allow_nan=False).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path == "/api/games":
            self._json(200, [{"name": k, **v} for k, v in PAGE_GAMES.items()])
            return
        name = "index.html" if path in ("/", "/index.html") else path[len("/static/"):] if path.startswith("/static/") else None
        file = (STATIC / name).resolve() if name else None
        if file is None or STATIC not in file.parents or not file.is_file():
            self._json(404, error_response(None, "not_found", f"no page at {path!r}"))
            return
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self._send(200, file.read_bytes(), f"{kind}; charset=utf-8" if kind.startswith("text/") or kind.endswith("javascript") else kind)

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        routes = {"/api/state": _describe_request, "/api/move": engine_move,
                  "/api/analysis": lambda b: analyse(b)}
        route = routes.get(path)
        if route is None:
            self._json(404, error_response(None, "not_found", f"no endpoint {path!r}"))
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._json(400, error_response(None, "bad_query", "give a JSON body of at most 1 MiB with Content-Length"))
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as exc:
            self._json(400, error_response(None, "invalid_json", f"not JSON: {exc}"))
            return
        if not isinstance(body, dict):
            self._json(400, error_response(None, "bad_query", "the body must be a JSON object"))
            return
        qid = body.get("id")
        try:
            self._json(200, route(body))
        except AnalysisError as exc:
            self._json(400, error_response(qid, exc.code, str(exc)))
        except Exception as exc:  # a fault of a search: reported to the page, the server lives on
            self._json(500, error_response(qid, "internal", f"{type(exc).__name__}: {exc}"))


class Server:
    """The page's HTTP server on ``host:port`` (port 0 picks a free one), run in a thread or the
    foreground.

    Args:
        host: the address to listen on (default 127.0.0.1: this machine only).
        port: the port (0: any free port; read :attr:`port` after construction).
        verbose: log each request to stderr.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, *, verbose: bool = False) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.verbose = verbose  # type: ignore[attr-defined]
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}/"

    def start(self) -> "Server":
        """Serves in a daemon thread (tests)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="plytree-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
