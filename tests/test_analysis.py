"""``plytree analysis``: the JSON protocol through a real pipe (concurrent queries, terminate,
garbage), every response checked against the schema; and ``analyse`` on positions with known answers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema  # a dev dependency
import pytest

from engine.analysis import AnalysisError, AnalysisServer, analyse

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "engine" / "data" / "analysis.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)


def _validator(definition: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{definition}"})


RESPONSE = _validator("response")
REQUEST = _validator("request")


class _Engine:
    """``python -m engine.cli analysis`` on pipes; a thread collects the response lines with the
    time each arrived."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "analysis", *args], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append((time.monotonic(), raw.decode()))
                self._cond.notify_all()

    def send(self, data: bytes | str | dict) -> None:
        if isinstance(data, dict):
            data = json.dumps(data)
        if isinstance(data, str):
            data = data.encode()
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def wait_for(self, predicate, timeout: float = 60.0) -> dict:
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for _, line in self.lines:
                    obj = json.loads(line)
                    if predicate(obj):
                        return obj
                left = end - time.monotonic()
                assert left > 0, f"no matching response within {timeout} s; got {self.lines}"
                self._cond.wait(left)

    def close(self) -> tuple[int, str]:
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=120)
        return rc, self.proc.stderr.read().decode()


def test_pipe_with_concurrent_queries_terminate_and_garbage():
    eng = _Engine("--threads", "2")
    try:
        # a long search first: the quick ones after it must not wait for it (a Python-level game, so
        # that its tree grows slowly: a C search would fill its memory limit within a minute)
        long_query = {"id": "long", "game": "openspiel:othello", "limit": {"time": 60}, "player": "mcts"}
        assert REQUEST.is_valid(long_query)
        eng.send(long_query)
        quick = [
            {"id": "c4", "game": "connect4", "moves": ["1", "1", "2", "2", "3", "3"], "limit": {"simulations": 300},
             "player": "mcts", "multiPV": 3, "includePolicy": True, "includeVisits": True, "includeTree": 2},
            {"id": 7, "game": "tictactoe", "limit": {"depth": 9}, "player": "alphabeta", "multiPV": 3},
            {"id": "os", "game": "openspiel:breakthrough", "gameParams": {"rows": 5, "columns": 5},
             "limit": {"simulations": 50}, "player": "mcts", "multiPV": 2},
            {"id": "over", "game": "tictactoe", "moves": [0, 3, 1, 4, 2], "limit": {"simulations": 10}},
        ]
        for q in quick:
            assert REQUEST.is_valid(q), q
            eng.send(q)
        garbage: list[bytes | str | dict] = [
            "this is not json", b"\xff\xfe\x00 not utf-8", "[1, 2, 3]", '{"game": "connect4"}', "{", "",
            {"id": "g1", "game": "no_such_game", "limit": {"simulations": 5}},
            {"id": "g2", "game": "connect4", "moves": ["9"], "limit": {"simulations": 5}},
            {"id": "g3", "game": "connect4", "position": "4444444", "limit": {"simulations": 5}},
            {"id": "g4", "game": "connect4", "limit": {"simulations": -3}},
            {"id": "g5", "game": "connect4", "limit": {"time": "soon"}},
            {"id": "g6", "game": "connect4"},
            {"id": "g7", "game": "connect4", "limit": {"simulations": 5}, "bogus": 1},
            {"id": "g8", "game": "openspiel:kuhn_poker", "limit": {"depth": 2}, "player": "alphabeta"},
            {"id": "g9", "game": "hex", "limit": {"depth": 1}, "player": "alphabeta", "includeTree": 2},
            {"id": "long", "game": "connect4", "limit": {"simulations": 5}},
            {"id": "v", "action": "version"},
            {"id": "x", "action": "explode"},
        ]
        for g in garbage:
            eng.send(g)
        # the quick queries finish while the long one still runs
        for q in quick:
            eng.wait_for(lambda r, q=q: r.get("id") == q["id"] and "lines" in r)
        assert not any(json.loads(line).get("id") == "long" and "lines" in json.loads(line) for _, line in eng.lines)
        eng.send({"id": "stop", "action": "terminate", "terminateId": "long"})
        ack = eng.wait_for(lambda r: r.get("id") == "stop")
        assert ack["found"] is True
        stopped = eng.wait_for(lambda r: r.get("id") == "long" and "lines" in r, timeout=30)
        eng.send({"id": "stop2", "action": "terminate", "terminateId": "nobody"})
        assert eng.wait_for(lambda r: r.get("id") == "stop2")["found"] is False
    finally:
        rc, err = eng.close()
    assert rc == 0, err
    responses = [json.loads(line) for _, line in eng.lines]
    for r in responses:
        errors = sorted(RESPONSE.iter_errors(r), key=str)
        assert not errors, f"{r} breaks the schema: {errors[0].message}"
    # the terminated search answered with what it had
    assert stopped["terminated"] is True and stopped["stats"]["stopReason"] == "stopped"
    assert stopped["bestMove"] is not None and stopped["stats"]["simulations"] > 0
    # every error is a JSON line: five id-less lines, one duplicate of "long", the rest by id
    errors = [r for r in responses if "error" in r]
    assert len([e for e in errors if e["id"] is None]) == 5  # the empty line is skipped
    codes = {e["id"]: e["error"]["code"] for e in errors if e["id"] is not None}
    assert codes == {"g1": "unknown_game", "g2": "bad_position", "g3": "bad_position", "g4": "bad_limit",
                     "g5": "bad_limit", "g6": "bad_limit", "g7": "bad_query", "g8": "unsupported",
                     "g9": "unsupported", "long": "duplicate_id", "x": "bad_query"}
    by_id = {r["id"]: r for r in responses if "lines" in r}
    # connect4 after 1 1 2 2 3 3: the first player wins at once in column 4
    c4 = by_id["c4"]
    assert c4["bestMove"] == "4" and c4["isProven"] and c4["provenValue"] == 1
    assert len(c4["lines"]) == 3 and c4["lines"][0]["pv"][0] == "4"
    assert len(c4["policy"]) == 7 and sum(p["prior"] for p in c4["policy"]) == pytest.approx(1.0, abs=1e-4)
    assert sum(v["visits"] for v in c4["visits"]) == sum(n["visits"] for n in c4["tree"]["children"])
    assert by_id[7]["rootValue"] == 0 and len(by_id[7]["lines"]) == 3  # tic-tac-toe is a draw
    assert by_id["os"]["game"] == "openspiel:breakthrough" and len(by_id["os"]["lines"]) == 2
    assert by_id["over"]["isTerminal"] and by_id["over"]["returns"] == [1.0, -1.0]
    assert [r for r in responses if r.get("action") == "version"][0]["protocolVersion"] == 1
    # answered as each finished: the long query came first and was answered after the quick ones
    order = [json.loads(line).get("id") for _, line in eng.lines if "lines" in json.loads(line)]
    assert order.index("long") > max(order.index(q["id"]) for q in quick)


def test_end_of_input_waits_for_the_queries_in_flight():
    out = subprocess.run([sys.executable, "-m", "engine.cli", "analysis", "--threads", "3"], cwd=ROOT,
                         input="\n".join(json.dumps({"id": i, "game": "tictactoe", "moves": [i],
                                                     "limit": {"simulations": 100}, "player": "mcts"})
                                         for i in range(6)) + "\n",
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    responses = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(r["id"] for r in responses) == list(range(6))
    assert all(RESPONSE.is_valid(r) for r in responses)


def test_mcts_lines_match_the_search_tree():
    r = analyse({"id": 1, "game": "tictactoe", "moves": [4], "limit": {"simulations": 400}, "player": "mcts",
                 "multiPV": 8, "includeTree": 3, "includeVisits": True})
    assert RESPONSE.is_valid(r)
    lines = r["lines"]
    assert [line["move"] for line in lines][0] == r["bestMove"]
    visits = {v["action"]: v["visits"] for v in r["visits"]}
    assert all(line["visits"] == visits[line["action"]] for line in lines)
    tree = {n["action"]: n for n in r["tree"]["children"]}
    for line in lines:
        node = tree[line["action"]]
        assert node["visits"] == line["visits"] and node["value"] == pytest.approx(line["value"], abs=1e-6)
        # the PV follows the most visited child at each step
        if len(line["pvActions"]) > 1:
            second = max(node["children"], key=lambda n: n["visits"])
            assert line["pvActions"][1] == second["action"]
    assert r["toMove"] == 1  # x took the centre, o is to move


def test_alphabeta_multipv_finds_the_only_saving_move():
    # x threatens 0-1-2 (x on 0 and 1); o must block at 2
    r = analyse({"id": "b", "game": "tictactoe", "moves": [0, 4, 1], "limit": {"depth": 9}, "player": "alphabeta",
                 "multiPV": 3})
    assert r["bestMove"] == "o(0,2)" and r["lines"][0]["value"] == 0
    assert len(r["lines"]) == 3 and all(line["value"] == -1 for line in r["lines"][1:])


def test_analyse_errors_are_typed():
    with pytest.raises(AnalysisError) as info:
        analyse({"id": 1, "game": "connect4", "limit": {"nodes": 0}})
    assert info.value.code == "bad_limit"
    with pytest.raises(AnalysisError) as info:
        analyse({"id": 1, "game": "connect4", "moves": [{"col": 1}], "limit": {"nodes": 5}})
    assert info.value.code == "bad_position"
    with pytest.raises(AnalysisError) as info:
        analyse({"id": 1, "game": "connect4", "limit": {"nodes": 5}, "player": "kind=telepathy"})
    assert info.value.code == "unsupported"


def test_server_survives_a_search_that_crashes(monkeypatch):
    out: list[dict] = []
    server = AnalysisServer(out.append, threads=1)
    import engine.analysis as analysis

    def boom(query, stopper=None):
        raise RuntimeError("the network fell over")

    monkeypatch.setattr(analysis, "analyse", boom)
    server.submit('{"id": "a", "game": "connect4", "limit": {"simulations": 5}}')
    server.close()
    assert out == [{"id": "a", "error": {"code": "internal", "message": "RuntimeError: the network fell over"}}]
