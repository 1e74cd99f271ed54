"""The JSON analysis protocol (``plytree analysis``), after KataGo's analysis engine, for every game.

One JSON query per line comes in; one JSON response per query goes out, as each search finishes
(several run at once on a pool of threads). Every error is a JSON line too, carrying the query's
``id`` when it has one. The fields are described in ``docs/analysis.md`` and, as a JSON Schema,
in ``engine/data/analysis.schema.json``.

A query (only ``id``, ``game`` and ``limit`` are required)::

    {"id": "q1", "game": "connect4", "moves": ["4", "4"], "limit": {"simulations": 400},
     "player": "mcts", "multiPV": 3, "includePolicy": true, "includeVisits": true, "includeTree": 2}

``{"id": "t", "action": "terminate", "terminateId": "q1"}`` stops the search of query ``q1`` (which
then answers with what it found, ``"terminated": true``) or drops it if it has not started.

:func:`analyse` answers one query in the calling thread (the web page uses it);
:class:`AnalysisServer` is the line protocol with its worker pool.
"""
from __future__ import annotations

import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Optional

PROTOCOL_VERSION = 1
MAX_LINE_CHARS = 1 << 20          # longer lines are refused (a query is a few hundred bytes)
MAX_TIME = 3600.0                 # seconds one query may ask for
MAX_COUNT = 10 ** 9               # simulations / nodes one query may ask for
MAX_DEPTH = 64
MAX_TREE_DEPTH = 6                # includeTree deeper than this would flood the output
MAX_MULTIPV = 64
LIMIT_FIELDS = ("simulations", "nodes", "time", "depth")
QUERY_FIELDS = frozenset({"id", "action", "terminateId", "game", "gameParams", "position", "moves", "limit",
                          "player", "multiPV", "includePolicy", "includeVisits", "includeTree", "seed"})


class AnalysisError(ValueError):
    """A query that cannot be answered; ``code`` says which kind of fault (see the schema)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SearchStopper:
    """Lets another thread stop a query's search, before or while it runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._search: Any = None
        self.stopped = False

    def attach(self, search: Any) -> bool:
        """Registers the running search; False when a stop came first."""
        with self._lock:
            self._search = search
            return not self.stopped

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            if self._search is not None:
                self._search.stop()


# ---------------------------------------------------------------------------------------------
# reading a query


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def query_id(query: Any) -> Any:
    """The query's id when it is a usable one (string or integer), else None."""
    if isinstance(query, dict):
        qid = query.get("id")
        if isinstance(qid, str) or _is_int(qid):
            return qid
    return None


def parse_limit(raw: Any):
    """The ``mcts.Limit`` of a query's ``limit`` object.

    Raises:
        AnalysisError: ``bad_limit`` when it is missing, unknown, out of range or unbounded.
    """
    from mcts import Limit

    if not isinstance(raw, dict) or not raw:
        raise AnalysisError("bad_limit", f"limit must be an object with one of {', '.join(LIMIT_FIELDS)}, got {raw!r}")
    unknown = sorted(set(raw) - set(LIMIT_FIELDS))
    if unknown:
        raise AnalysisError("bad_limit", f"unknown limit field(s) {unknown}; known: {', '.join(LIMIT_FIELDS)}")
    kw: dict[str, Any] = {}
    for key in ("simulations", "nodes"):
        if key in raw:
            v = raw[key]
            if not _is_int(v) or not 1 <= v <= MAX_COUNT:
                raise AnalysisError("bad_limit", f"limit.{key} must be an integer in [1, {MAX_COUNT}], got {v!r}")
            kw[key] = v
    if "depth" in raw:
        v = raw["depth"]
        if not _is_int(v) or not 1 <= v <= MAX_DEPTH:
            raise AnalysisError("bad_limit", f"limit.depth must be an integer in [1, {MAX_DEPTH}], got {v!r}")
        kw["depth"] = v
    if "time" in raw:
        v = raw["time"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= MAX_TIME:
            raise AnalysisError("bad_limit", f"limit.time must be seconds in (0, {MAX_TIME:g}], got {v!r}")
        kw["time"] = float(v)
    return Limit(**kw)


def _flag(query: Mapping[str, Any], key: str) -> bool:
    v = query.get(key, False)
    if not isinstance(v, bool):
        raise AnalysisError("bad_query", f"{key} must be true or false, got {v!r}")
    return v


def _count(query: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    v = query.get(key, default)
    if not _is_int(v) or not low <= v <= high:
        raise AnalysisError("bad_query", f"{key} must be an integer in [{low}, {high}], got {v!r}")
    return v


def load_game(name: Any, params: Any):
    """``games.load(name, **params)`` with the protocol's errors."""
    import games

    if not isinstance(name, str) or not name.strip():
        raise AnalysisError("bad_query", f"game must be a game name, got {name!r}")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise AnalysisError("bad_query", f"gameParams must be an object, got {params!r}")
    try:
        return games.load(name, **params)
    except games.UnknownGameError as exc:
        raise AnalysisError("unknown_game", str(exc)) from exc
    except (ValueError, TypeError) as exc:
        raise AnalysisError("unknown_game", f"cannot load {name!r} with {params!r}: {exc}") from exc


def build_position(game, position: Any, moves: Any):
    """The state after ``position`` (serialised, as ``game.deserialize`` reads) and ``moves``
    (action numbers or move texts).

    Raises:
        AnalysisError: ``bad_position``.
    """
    import games

    if position is not None and not isinstance(position, str):
        raise AnalysisError("bad_position", f"position must be a string (FEN or move string), got {position!r}")
    if moves is None:
        moves = []
    if not isinstance(moves, list):
        raise AnalysisError("bad_position", f"moves must be a list of moves, got {moves!r}")
    try:
        state = game.deserialize(position) if position else game.new_initial_state()
        for i, move in enumerate(moves):
            if _is_int(move):
                state.apply_action_checked(move)
            elif isinstance(move, str):
                state.apply_action_checked(state.string_to_action(move))
            else:
                raise AnalysisError("bad_position", f"moves[{i}] must be an action number or a move's text, got {move!r}")
    except games.GameError as exc:
        raise AnalysisError("bad_position", str(exc)) from exc
    return state


# ---------------------------------------------------------------------------------------------
# answering a query


def _finite(x: Any) -> Optional[float]:
    x = float(x)
    return round(x, 6) + 0.0 if math.isfinite(x) else None  # + 0.0 writes -0.0 as 0.0


def _move(state, action: int) -> str:
    return state.action_to_string(int(action))


def _line_texts(state, actions) -> list[str]:
    from games import actions_to_strings

    return actions_to_strings(state, [int(a) for a in actions])


def _mcts_pv(search, path: list[int], max_len: int = 32) -> list[int]:
    """The most visited line below ``path`` in an MCTS tree."""
    line: list[int] = []
    while len(line) < max_len:
        try:
            children = search.child_stats(path + line)
        except KeyError:
            break
        visited = [(n, a) for a, (n, _, _) in children.items() if n > 0]
        if not visited:
            break
        line.append(max(visited, key=lambda na: (na[0], -na[1]))[1])  # ties: the lowest action
    return line


# MCTS's proven codes of a child (for the player to move at its parent) as win / draw / loss
_PROVEN = {3: 1, 2: 0, 1: -1}


def _mcts_tree(search, state, path: list[int], depth: int) -> list[dict]:
    """The children of the node at ``path``, down to ``depth`` more plies (visited ones only)."""
    try:
        children = search.child_stats(path)
    except KeyError:
        return []
    out = []
    for action, (visits, value, proven) in sorted(children.items(), key=lambda kv: -kv[1][0]):
        if visits == 0:
            continue
        node: dict[str, Any] = {"action": int(action), "move": _move(state, action), "visits": int(visits),
                                "value": _finite(value)}
        if proven in _PROVEN:
            node["proven"] = _PROVEN[proven]
        if depth > 1:
            child = state.clone()
            child.apply_action(action)
            if not child.is_terminal():
                node["children"] = _mcts_tree(search, child, path + [int(action)], depth - 1)
        out.append(node)
    return out


def _make_search(query: Mapping[str, Any], game, seed: int):
    from engine._factory import make_player

    spec = query.get("player", "default")
    if not isinstance(spec, str) or not spec.strip():
        raise AnalysisError("bad_query", f"player must be a player spec such as 'mcts' or 'kind=alphabeta', got {spec!r}")
    try:
        player = make_player(spec, game, seed=seed)
    except ValueError as exc:  # mcts.UnsupportedGameError included
        raise AnalysisError("unsupported", f"player {spec!r} cannot analyse {game.name}: {exc}") from exc
    search = getattr(player, "search", None)
    if search is None:
        raise AnalysisError("bad_query", f"player {spec!r} does not search; use mcts, alphabeta or default")
    return search


def analyse(query: Mapping[str, Any], stopper: Optional[SearchStopper] = None) -> dict[str, Any]:
    """Answers one analysis query (in this thread).

    Args:
        query: the decoded JSON object (see the module's docstring and the schema).
        stopper: lets another thread end the search early.

    Returns:
        The response object (without errors: those raise).

    Raises:
        AnalysisError: the query is malformed, names an unknown game, a bad position or limit, or
            asks a search for what it cannot do.
    """
    import mcts

    unknown = sorted(set(query) - QUERY_FIELDS)
    if unknown:
        raise AnalysisError("bad_query", f"unknown field(s) {unknown}; known: {', '.join(sorted(QUERY_FIELDS))}")
    game = load_game(query.get("game"), query.get("gameParams"))
    state = build_position(game, query.get("position"), query.get("moves"))
    limit = parse_limit(query.get("limit"))
    multipv = _count(query, "multiPV", 1, 1, MAX_MULTIPV)
    tree_depth = _count(query, "includeTree", 0, 0, MAX_TREE_DEPTH)
    want_policy, want_visits = _flag(query, "includePolicy"), _flag(query, "includeVisits")
    seed = _count(query, "seed", 0, 0, 2 ** 63 - 1)
    response: dict[str, Any] = {"id": query_id(query), "game": game.name, "position": state.serialize(),
                                "isTerminal": state.is_terminal()}
    if state.is_terminal():
        response.update(toMove=None, returns=[float(r) for r in state.returns()], lines=[], terminated=False)
        return response
    search = _make_search(query, game, seed)
    is_mcts = isinstance(search, mcts.MCTS)
    if not is_mcts and (want_policy or want_visits or tree_depth):
        raise AnalysisError("unsupported", "includePolicy, includeVisits and includeTree need an MCTS player")
    legal = state.legal_actions()
    runner = search
    if not is_mcts and multipv > 1 and len(legal) > 1:
        from engine.uci import RootSplitSearch

        runner = RootSplitSearch(search, legal, multipv)
    if stopper is not None and is_mcts and search.should_stop is None:
        # MCTS.run clears its stop flag when it starts; the hook also catches a stop that lands
        # between attach() and that moment
        search.should_stop = lambda best, second, left: stopper.stopped
    if stopper is not None and not stopper.attach(runner):
        response.update(toMove=state.current_player(), lines=[], terminated=True, noResults=True)
        return response
    try:
        result = runner.run(state, limit)
    except (ValueError, mcts.UnsupportedGameError) as exc:
        raise AnalysisError("unsupported", f"the search refused: {exc}") from exc
    terminated = bool(stopper is not None and stopper.stopped)
    stop_reason = "stopped" if terminated else (result.stop_reason or None)  # the hook reports "budget"
    response.update(toMove=state.current_player(), terminated=terminated,
                    rootValue=_finite(result.value), isProven=bool(result.is_proven),
                    provenValue=result.proven_value if result.is_proven else None,
                    bestAction=int(result.best_action),
                    bestMove=_move(state, result.best_action) if result.best_action >= 0 else None,
                    lines=_lines(search, state, result, multipv, is_mcts),
                    stats={"simulations": int(result.simulations), "nodes": int(result.nodes),
                           "depth": int(result.depth), "seldepth": int(result.seldepth),
                           "seconds": round(float(result.seconds), 4), "stopReason": stop_reason})
    if want_policy:
        response["policy"] = [{"action": int(a), "move": _move(state, a), "prior": _finite(p)}
                              for a, p in zip(result.actions, result.priors)]
    if want_visits:
        response["visits"] = [{"action": int(a), "move": _move(state, a), "visits": int(n)}
                              for a, n in zip(result.actions, result.visits)]
    if tree_depth:
        response["tree"] = {"visits": int(result.extra.get("root_visits", sum(result.visits) + 1)), "value": _finite(result.value),
                            "children": _mcts_tree(search, state, [], tree_depth)}
    return response


def _lines(search, state, result, multipv: int, is_mcts: bool) -> list[dict]:
    """The best ``multipv`` moves: move, value for the player to move, visits, prior, PV."""
    out: list[dict] = []
    if is_mcts:
        stats = list(zip(result.actions, result.visits, result.q_values, result.priors))
        stats.sort(key=lambda r: (r[0] != result.best_action, -r[1]))
        for action, visits, q, prior in stats[:multipv]:
            if visits == 0 and out:
                break
            if action == result.best_action and result.pv:
                pv = [int(a) for a in result.pv]  # the search's own principal variation
            else:
                pv = [int(action)] + _mcts_pv(search, [int(action)])
            out.append({"action": int(action), "move": _move(state, action), "value": _finite(q),
                        "visits": int(visits), "prior": _finite(prior), "pv": _line_texts(state, pv), "pvActions": pv})
        return out
    extra = result.extra.get("multipv") if isinstance(result.extra, dict) else None
    lines = list(extra[:multipv]) if extra else [result]
    for line in lines:
        pv = [int(a) for a in (line.pv or (line.best_action,))]
        out.append({"action": pv[0], "move": _move(state, pv[0]), "value": _finite(line.value), "visits": None,
                    "prior": None, "score": line.score, "pv": _line_texts(state, pv), "pvActions": pv})
    return out


# ---------------------------------------------------------------------------------------------
# the line protocol


def error_response(qid: Any, code: str, message: str) -> dict[str, Any]:
    """The JSON line of an error (``id`` is null when the query had no usable id)."""
    return {"id": qid, "error": {"code": code, "message": message}}


class AnalysisServer:
    """The line protocol: :meth:`submit` takes raw lines, responses go to ``write`` as each query
    finishes (a pool of ``threads`` searches); :meth:`close` waits for the queries in flight.

    Args:
        write: called with each response object (from several threads, one call at a time).
        threads: searches that run at once.
    """

    def __init__(self, write: Callable[[dict], None], *, threads: int = 2) -> None:
        if not _is_int(threads) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        self._write = write
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="analysis")
        self._in_flight: dict[Any, SearchStopper] = {}

    def emit(self, response: dict) -> None:
        with self._write_lock:
            self._write(response)

    def submit(self, line: str | bytes) -> None:
        """Handles one input line: a query goes to the pool, anything else is answered at once."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        text = line.strip()
        if not text:
            return
        if len(text) > MAX_LINE_CHARS:
            self.emit(error_response(None, "invalid_json", f"line of {len(text)} characters is longer than {MAX_LINE_CHARS}"))
            return
        try:
            query = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            self.emit(error_response(None, "invalid_json", f"not JSON: {exc}"))
            return
        qid = query_id(query)
        if not isinstance(query, dict):
            self.emit(error_response(None, "bad_query", f"a query must be a JSON object, got {type(query).__name__}"))
            return
        if qid is None:
            self.emit(error_response(None, "bad_query", f"a query needs an id (string or integer), got {query.get('id')!r}"))
            return
        action = query.get("action", "analyze")
        if action == "terminate":
            self._terminate(qid, query)
            return
        if action == "version":
            self.emit({"id": qid, "action": "version", "protocolVersion": PROTOCOL_VERSION})
            return
        if action != "analyze":
            self.emit(error_response(qid, "bad_query", f"action must be analyze, terminate or version, got {action!r}"))
            return
        stopper = SearchStopper()
        with self._lock:
            if qid in self._in_flight:
                self.emit(error_response(qid, "duplicate_id", f"query {qid!r} is still in flight"))
                return
            self._in_flight[qid] = stopper
        self._pool.submit(self._run, qid, query, stopper)

    def _terminate(self, qid: Any, query: dict) -> None:
        target = query.get("terminateId")
        with self._lock:
            stopper = self._in_flight.get(target) if (isinstance(target, str) or _is_int(target)) else None
        if stopper is not None:
            stopper.stop()
        self.emit({"id": qid, "action": "terminate", "terminateId": target, "found": stopper is not None})

    def _run(self, qid: Any, query: dict, stopper: SearchStopper) -> None:
        try:
            response = analyse(query, stopper)
        except AnalysisError as exc:
            response = error_response(qid, exc.code, str(exc))
        except Exception as exc:  # a fault of a search or model: reported, never a crash
            response = error_response(qid, "internal", f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._in_flight.pop(qid, None)
        try:
            self.emit(response)
        except (TypeError, ValueError) as exc:  # a value JSON cannot write
            self.emit(error_response(qid, "internal", f"cannot write the response: {exc}"))

    def close(self) -> None:
        """Waits for every query in flight, then stops the pool."""
        self._pool.shutdown(wait=True)


def serve_lines(instream, outstream, *, threads: int = 2) -> int:
    """Runs the protocol over two streams until ``instream`` ends; returns the exit code (0).

    ``instream`` yields lines (bytes are decoded as UTF-8 with replacement, so no input can crash
    the reader); each response is one line of ``outstream``, flushed.
    """

    def write(obj: dict) -> None:
        outstream.write(json.dumps(obj, allow_nan=False) + "\n")
        outstream.flush()

    server = AnalysisServer(write, threads=threads)
    try:
        while True:
            line = instream.readline()
            if not line:
                break
            server.submit(line)
    finally:
        server.close()
    return 0
