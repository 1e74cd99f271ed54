"""Text agents: environments, the sandbox, the agent search with scripted models, budgets, traces,
the HTTP path through a fake OpenAI-compatible server, the learned value head and the command."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import games
from games.text import (
    CodeRepair,
    Connect4Task,
    Game24,
    InvalidActionError,
    SandboxLimits,
    TaskError,
    TextRevision,
    load_tasks,
    make_env,
    opponent_reply,
    run_python,
    solve,
)
from mcts import MCTS, Limit, UniformEvaluator
from mcts._agent_protocol import AgentBudget, BudgetExhausted, Evaluation
from mcts.agent_search import AgentSearch, InvalidEnvironmentError, sample_episodes
from mcts.trace import TraceError, agent_trace, from_linear, game_trace, load_trace, save_trace, to_linear
from models.llm import HTTPBackend, ScriptedBackend
from models.llm._agent_oracle import LLMAgentOracle, Prices
from models.llm.value_head import ValueHead, ValueHeadError, game24_examples, train_head

ROOT = Path(__file__).resolve().parents[1]

# a model that knows one solution of 4 7 8 8, scores states, and proposes garbage elsewhere
G24_ANSWERS = {
    "Numbers: 4 7 8 8\nNext": ["4 + 7 = 11", "8 / 8 = 1", "banana"],
    "Numbers: 8 8 11\nNext": ["11 - 8 = 3", "8 + 8 = 16"],
    "Numbers: 3 8\nNext": ["3 * 8 = 24"],
    "Score": "Score: 70. Reason: the numbers look close to 24.",
}


class CountingBackend(ScriptedBackend):
    """A scripted model that counts every generation and token it is asked for."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.generations = 0
        self.tokens_out = 0

    def _complete_uncached(self, prompts, max_tokens, temperature, n, stop, res):
        texts = super()._complete_uncached(prompts, max_tokens, temperature, n, stop, res)
        self.generations += len(prompts) * n
        return texts

    def _charge(self, res, prompt_tokens, completion_tokens, calls=1):
        self.tokens_out += prompt_tokens + completion_tokens
        super()._charge(res, prompt_tokens, completion_tokens, calls)


# -- the environments ---------------------------------------------------------------------------
def test_game24_rules_solver_and_serialisation():
    env = make_env("game24", "4-7-8-8")
    s = env.initial()
    assert env.to_text(s) == "4 7 8 8" and not env.is_terminal(s)
    for step in solve([4, 7, 8, 8]):
        s = env.apply(s, step)
    assert env.is_terminal(s) and env.reward(s) == 1.0 and env.is_solved(s)
    assert env.deserialize(env.serialize(s)) == s
    assert solve([1, 1, 1, 1]) is None and not Game24([1, 1, 1, 1]).is_solvable(Game24([1, 1, 1, 1]).initial())
    t = env.apply(env.initial(), "I think 8 x 8 = 65")  # the model's result is recomputed
    assert env.to_text(t) == "4 7 64"
    neg = env.apply(env.apply(Game24([4, 4, 6, 8]).initial(), "4 - 6 = -2"), "-2 + 8 = 6")
    assert env.to_text(neg) == "4 6"
    for bad in ("banana", "9 + 1 = 10", "8 / 0 = 0"):
        with pytest.raises(InvalidActionError):
            env.apply(env.initial(), bad)
    with pytest.raises(TaskError):
        env.deserialize("{not json")
    enum = Game24([1, 2, 3, 4], enumerate=True)
    steps = enum.enumerate_actions(enum.initial())
    assert len(steps) == len({enum.apply(enum.initial(), a).numbers for a in steps}) > 10


def test_task_files_and_loader(tmp_path):
    for name in ("game24", "code_repair", "revision", "connect4"):
        tasks = load_tasks(name)
        assert len(tasks) >= 3
        env = make_env(name, tasks[-1]["id"])
        assert env.task_id == str(tasks[-1]["id"])
        s = env.initial()
        assert env.deserialize(env.serialize(s)) == s
        assert env.describe(s) and env.value_question(s)
    assert make_env("game24", "1").task_id == load_tasks("game24")[1]["id"]
    assert make_env("game24", "3 4 5 6").to_text(make_env("game24", "3 4 5 6").initial()) == "3 4 5 6"
    assert make_env("connect4", "4453").moves == "4453"
    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"env": "game24", "tasks": [{"id": "x", "numbers": [6, 6, 6, 6]}]}))
    assert make_env("game24", "x", path=f).start == Game24([6, 6, 6, 6]).start
    with pytest.raises(TaskError):
        make_env("game24", "nope", path=f)
    with pytest.raises(TaskError):
        make_env("chess", None)
    f.write_text(json.dumps({"env": "revision", "tasks": []}))
    with pytest.raises(TaskError):
        load_tasks("game24", f)
    f.write_text("[1, 2")
    with pytest.raises(TaskError):
        load_tasks("game24", f)


def test_connect4_environment_and_opponent():
    env = Connect4Task("1212")
    assert env.apply(env.initial(), "1").moves == "121211"  # three in column 1: the opponent blocks
    assert env.apply(env.initial(), "5").moves == "121254"  # else it takes the centre
    state = games.load("connect4").deserialize("121212")  # x to move wins at column 1
    assert opponent_reply(state) == 0
    win = env.apply(Connect4Task("121212").initial(), "column 1")
    assert env.is_terminal(win) and Connect4Task("121212").reward(win) == 1.0
    assert env.enumerate_actions(env.initial()) == [str(c) for c in range(1, 8)]
    with pytest.raises(InvalidActionError):
        env.parse_action(env.initial(), "column nine")
    with pytest.raises(TaskError):
        Connect4Task("1111111")  # column 1 overfull


def test_revision_environment():
    env = make_env("revision", "meeting")
    s = env.apply(env.initial(), "Revised: The meeting moved to 3 pm tomorrow. Please be on time.")
    assert s.text.startswith("The meeting") and s.revisions == 1 and not env.is_terminal(s)
    assert env.reward(s) is None and "Rubric" in env.judge_question(s)
    with pytest.raises(InvalidActionError):
        env.apply(s, "   ")
    with pytest.raises(InvalidActionError):
        env.apply(s, "x" * 5000)


# -- the sandbox ----------------------------------------------------------------------------------
def test_sandbox_runs_code_and_stops_loops_memory_and_network():
    ok = run_python("print(sum(range(10)))")
    assert ok.ok and ok.stdout.strip() == "45"
    loop = run_python("while True:\n    pass\n", SandboxLimits(time=3, cpu=2))
    assert not loop.ok and loop.reason in ("time limit", "cpu limit or killed")
    big = run_python("x = bytearray(4 * 1024 ** 3)\nprint('allocated')", SandboxLimits(memory_mb=256))
    assert not big.ok and "allocated" not in big.stdout and big.reason == "memory limit"
    net = run_python("import socket\nsocket.create_connection(('127.0.0.1', 9))\nprint('connected')")
    assert not net.ok and "connected" not in net.stdout and net.reason == "network refused"
    files = run_python("import os\nprint(os.getcwd() != '/', open('data.txt').read())", files={"data.txt": "hi"})
    assert files.stdout.split() == ["True", "hi"]


def test_code_repair_scores_fixes_and_fails_bad_code():
    env = make_env("code_repair", "mean", limits=SandboxLimits(time=5, cpu=3, memory_mb=256))
    s = env.initial()
    assert s.passed < s.total == 3 and "AssertionError" in s.feedback
    fixed = env.apply(s, "Here:\n```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```")
    assert env.is_terminal(fixed) and env.reward(fixed) == 1.0 and env.is_solved(fixed)
    for code, why in (("def mean(xs):\n    while True:\n        pass\n", "limit"),
                      ("def mean(xs):\n    x = bytearray(4 * 1024 ** 3)\n    return sum(xs) / len(xs)\n", "MemoryError"),
                      ("import urllib.request\ndef mean(xs):\n    urllib.request.urlopen('http://127.0.0.1:9')\n"
                       "    return sum(xs) / len(xs)\n", "network access is disabled")):
        bad = env.apply(s, code)
        assert bad.passed == 0 and env.reward(bad) == 0.0 and not env.is_solved(bad), bad.feedback
        assert why in bad.feedback
    with pytest.raises(InvalidActionError):
        env.apply(s, "def median(xs):\n    return 0\n")
    with pytest.raises(InvalidActionError):
        env.apply(s, "def mean(xs) return 0")
    assert env.is_terminal(env.apply(env.apply(env.apply(s, "def mean(xs):\n    return 1\n"),
                                               "def mean(xs):\n    return 2\n"), "def mean(xs):\n    return 3\n"))


# -- the search -----------------------------------------------------------------------------------
def test_search_solves_game24_with_a_scripted_model_and_carries_explanations():
    backend = ScriptedBackend(completions=G24_ANSWERS)
    result = AgentSearch(LLMAgentOracle(backend), samples=3).run(make_env("game24", "4-7-8-8"), Limit(llm_calls=40))
    assert result.solved and result.reward == 1.0 and result.stop_reason == "solved"
    assert result.answer == "4 + 7 = 11; 11 - 8 = 3; 3 * 8 = 24"
    assert result.stats["invalid_proposals"] >= 1
    proposal_prompts = [p for p in backend.prompts_seen if "Next step" in p]
    assert any("Assessment of this state: the numbers look close to 24." in p for p in proposal_prompts)
    assert any("Rejected earlier answers" in p for p in proposal_prompts)
    root, kids = result.nodes_data[0], [n for n in result.nodes_data if n["parent"] == 0]
    assert root["visits"] >= 1 + sum(k["visits"] for k in kids)  # plus rounds that found nothing new
    assert all(n["explanation"] for n in result.nodes_data[1:] if not n["terminal"])


def test_progressive_widening_and_enumerated_actions():
    # Game of 24 with enumerated steps: no proposal requests, only values; widening bounds the root
    backend = CountingBackend(completions={"Score": "Score: 40. Reason: unsure."})
    env = Game24([4, 7, 8, 8], enumerate=True)
    search = AgentSearch(LLMAgentOracle(backend), samples=1, widening=1.0, widening_exponent=0.5)
    result = search.run(env, Limit(simulations=16))
    root = result.nodes_data[0]
    kids = [n for n in result.nodes_data if n["parent"] == 0]
    assert len(kids) <= math.ceil(math.sqrt(root["visits"])) + 1
    assert result.stats.get("proposal_requests", 0) == 0 and result.iterations == 16
    wide = AgentSearch(LLMAgentOracle(CountingBackend(completions={"Score": "Score: 40."})), samples=1,
                       widening=100.0).run(Game24([4, 7, 8, 8], enumerate=True), Limit(simulations=16))
    assert len([n for n in wide.nodes_data if n["parent"] == 0]) == 16


def test_search_over_connect4_finds_the_win_and_closes_exhausted_trees():
    env = Connect4Task("121212")
    result = AgentSearch(LLMAgentOracle(ScriptedBackend(completions={"Score": "Score: 50"})), samples=7).run(
        env, Limit(llm_calls=20))
    assert result.solved and result.answer.startswith("1")
    # a model that never answers validly: the search stops when nothing is left to propose
    dead = AgentSearch(LLMAgentOracle(ScriptedBackend(default_completion="no idea")), max_rounds=2).run(
        make_env("game24", "4-7-8-8"), Limit(llm_calls=50))
    assert dead.stop_reason == "exhausted" and dead.selection == "unfinished" and not dead.solved


def test_final_selection_majority_and_discriminator():
    def answers(prompt: str):
        if "Candidate" in prompt:
            return "2"
        if "Write the revised text only" in prompt:
            return ["The meeting is at 3 pm tomorrow. Please be on time.", "Meeting: 3 pm tomorrow, thank you."]
        return "Score: 60. Reason: polite enough." if "Reason" in prompt else "60"

    env = make_env("revision", "meeting", max_revisions=1)
    for final in ("best", "majority", "discriminator"):
        r = AgentSearch(LLMAgentOracle(ScriptedBackend(completions=answers)), samples=2, final=final,
                        stop_on_solve=False).run(env, Limit(llm_calls=12))
        assert r.selection == final and r.reward == pytest.approx(59 / 99)
    assert r.answer == "Meeting: 3 pm tomorrow, thank you."  # the discriminator named candidate 2
    with pytest.raises(ValueError):
        AgentSearch(LLMAgentOracle(ScriptedBackend()), final="vote")
    with pytest.raises(InvalidEnvironmentError):
        AgentSearch(LLMAgentOracle(ScriptedBackend())).run(object(), Limit(llm_calls=1))


def test_sampling_baseline():
    backend = ScriptedBackend(completions=G24_ANSWERS)
    r = sample_episodes(make_env("game24", "4-7-8-8"), LLMAgentOracle(backend), Limit(llm_calls=30))
    assert r.solved and r.stop_reason == "solved" and r.nodes >= 4
    none = sample_episodes(make_env("game24", "4-7-8-8"), LLMAgentOracle(ScriptedBackend(default_completion="?")),
                           Limit(llm_calls=5))
    assert not none.solved and none.spent["llm_calls"] == 5 and none.stop_reason == "llm_calls"


# -- budgets --------------------------------------------------------------------------------------
def test_budget_reserves_before_sending():
    b = AgentBudget(Limit(llm_calls=3, tokens=100, money=0.5))
    r = b.reserve(requests=2, prompt_tokens=40, completion_tokens=10, money=0.2)
    with pytest.raises(BudgetExhausted):
        b.reserve(requests=2)  # 2 held + 2 > 3
    with pytest.raises(BudgetExhausted):
        b.reserve(requests=1, prompt_tokens=60)  # 50 held + 60 > 100
    b.settle(r, requests=1, prompt_tokens=30, completion_tokens=5, money=0.1)
    b.reserve(requests=2, prompt_tokens=60, money=0.4)
    assert b.requests == 1 and b.tokens == 35 and b.refused == 2 and b.exhausted() == ""
    with pytest.raises(ValueError):
        b.settle(r, requests=0, prompt_tokens=0, completion_tokens=0, money=0)
    with pytest.raises(ValueError):
        Limit(money=-1.0)


@pytest.mark.parametrize("limit", [Limit(llm_calls=7), Limit(tokens=2500), Limit(money=0.004),
                                   Limit(llm_calls=5, tokens=100_000)])
@pytest.mark.parametrize("shape", ["search", "search-samples", "sample", "enumerated"])
def test_requests_never_exceed_the_limit(limit, shape):
    backend = CountingBackend(completions={"Score": "Score: 30. Reason: far.", "Next": ["1 + 1 = 2", "oops", "2 * 2 = 4"]})
    oracle = LLMAgentOracle(backend, prices=Prices(prompt=1.0, completion=2.0))  # per million tokens
    env = make_env("game24", "1-2-3-4", enumerate=shape == "enumerated")
    if shape == "sample":
        r = sample_episodes(env, oracle, limit)
    else:
        r = AgentSearch(oracle, samples=3 if shape == "search-samples" else 1).run(env, limit)
    spent = r.spent
    assert backend.generations <= (limit.llm_calls or 10 ** 9) or shape == "search-samples"
    assert spent["llm_calls"] <= (limit.llm_calls or 10 ** 9)
    assert spent["tokens"] == backend.tokens_out <= (limit.tokens or 10 ** 9)
    assert spent["money"] <= (limit.money or 10 ** 9) + 1e-12
    assert spent["money"] == pytest.approx((spent["prompt_tokens"] + 2 * spent["completion_tokens"]) / 1e6)
    assert r.stop_reason in ("llm_calls", "tokens", "money", "exhausted", "solved")
    assert spent["llm_calls"] >= 1


def test_cache_hits_cost_nothing_and_samples_are_fresh():
    backend = CountingBackend(completions={"Next": ["1 + 2 = 3", "3 * 4 = 12"]})
    oracle = LLMAgentOracle(backend)
    env = make_env("game24", "1-2-3-4")
    budget = AgentBudget(Limit(llm_calls=10))
    oracle.propose(env, env.initial(), 1, "", budget)
    oracle.propose(env, env.initial(), 1, "", budget)
    assert backend.generations == 2 and budget.requests == 2  # a new cache key per draw
    oracle.evaluate(env, [env.initial()], budget)
    oracle.evaluate(env, [env.initial()], budget)
    assert budget.requests == 3 and backend.usage.snapshot().cache_hits == 1


# -- traces ---------------------------------------------------------------------------------------
def test_traces_round_trip(tmp_path):
    r = AgentSearch(LLMAgentOracle(ScriptedBackend(completions=G24_ANSWERS)), samples=3).run(
        make_env("game24", "4-7-8-8"), Limit(llm_calls=40))
    trace = agent_trace(r)
    assert load_trace(save_trace(trace, tmp_path / "t.json")) == json.loads(json.dumps(trace))
    text = to_linear(trace)
    assert text.startswith('<trace kind=agent env=game24 task="4-7-8-8">\n[0] "" N=')
    assert '[3] "3 * 8 = 24" N=1 Q=1.0000 R=1.0000' in text
    back = load_trace(save_trace(trace, tmp_path / "t.txt"))
    assert to_linear(back) == text and back["answer"] == r.answer
    assert sorted(n["move"] or "" for n in back["nodes"]) == sorted(n["move"] or "" for n in trace["nodes"])
    code = agent_trace(AgentSearch(LLMAgentOracle(ScriptedBackend(
        completions={"Fix": "```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```", "Score": "Score: 5"}))).run(
        make_env("code_repair", "mean"), Limit(llm_calls=6)))
    assert from_linear(to_linear(code))["nodes"][1]["move"].startswith("def mean(xs):\n")
    with pytest.raises(TraceError):
        from_linear("<trace kind=agent env=x task=\"\">\n[2] \"a\" N=1 Q=0.5\n<answer \"\">")
    with pytest.raises(TraceError):
        from_linear("garbage")
    with pytest.raises(TraceError):
        save_trace({"format": "other", "nodes": []}, tmp_path / "e.json")
    with pytest.raises(TraceError):
        to_linear({"format": "plytree-trace/1", "nodes": [{"id": 1, "parent": 0}]})  # parent missing


def test_game_trace_from_mcts_and_analyse_command(tmp_path):
    game = games.load("tictactoe")
    state = game.new_initial_state()
    result = MCTS(game, UniformEvaluator(), seed=0).run(state, Limit(simulations=64))
    trace = game_trace("tictactoe", state, result)
    kids = [n for n in trace["nodes"] if n["parent"] == 0 and not n.get("pv")]
    assert sum(n["visits"] for n in kids) == sum(result.visits) and len(kids) == 9
    assert from_linear(to_linear(trace))["nodes"][0]["visits"] == trace["nodes"][0]["visits"]
    out = tmp_path / "a.txt"
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "analyse", "tictactoe", "--player", "mcts",
                           "--simulations", "50", "--trace", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert load_trace(out)["kind"] == "game"


# -- a real HTTP server ---------------------------------------------------------------------------
class _Server(BaseHTTPRequestHandler):
    posts: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).posts.append(body)
        prompt = body.get("prompt", "")
        answers = next((v for k, v in G24_ANSWERS.items() if k in prompt), "")
        answers = [answers] if isinstance(answers, str) else answers
        n = int(body.get("n", 1))
        choices = [{"index": i, "text": answers[i % len(answers)], "finish_reason": "stop"} for i in range(n)]
        reply = json.dumps({"choices": choices, "usage": {"prompt_tokens": len(prompt) // 4,
                                                          "completion_tokens": 3 * n}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Server.posts = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_search_through_a_real_http_server(server):
    backend = HTTPBackend(server, "fake", retries=0)
    r = AgentSearch(LLMAgentOracle(backend), samples=3).run(make_env("game24", "4-7-8-8"), Limit(llm_calls=40))
    assert r.solved and r.answer.endswith("3 * 8 = 24")
    assert r.spent["llm_calls"] == len(_Server.posts) <= 40
    assert r.spent["completion_tokens"] == sum(3 * int(p.get("n", 1)) for p in _Server.posts)
    _Server.posts.clear()
    tight = AgentSearch(LLMAgentOracle(HTTPBackend(server, "fake", retries=1)), samples=2).run(
        make_env("game24", "1-2-3-4"), Limit(llm_calls=5))
    assert len(_Server.posts) == tight.spent["llm_calls"] <= 5


def test_agent_command_against_the_server(server, tmp_path):
    out = tmp_path / "tree.json"
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "agent", "game24", "4 7 8 8", "--backend", "http",
                           "--url", server, "--model", "fake", "--budget", "llm_calls=30,tokens=20000",
                           "--samples", "3", "--trace", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "solved: yes" in proc.stdout and "3 * 8 = 24" in proc.stdout and "iteration" in proc.stderr
    assert load_trace(out)["solved"] is True
    bad = subprocess.run([sys.executable, "-m", "engine.cli", "agent", "game24", "--budget", "calls=x"], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert bad.returncode == 1 and "bad number" in bad.stderr


# -- the learned value ----------------------------------------------------------------------------
def test_value_head_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 12)).astype(np.float32)
    y = np.where(x[:, 0] > 0, 1.0, -1.0)
    head = train_head(x[:300], y[:300], model="m")
    acc = np.mean(np.sign(head.predict(x[300:])) == y[300:])
    assert acc > 0.9
    again = ValueHead.load(head.save(tmp_path / "h.npz"))
    assert np.allclose(again.predict(x[300:]), head.predict(x[300:]), atol=1e-5) and again.model == "m"
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ValueHeadError):
        ValueHead.load(tmp_path / "bad.npz")
    rows = game24_examples(40, seed=1)
    assert sum(v > 0 for _, _, v in rows) == 20 and all(e.is_solvable(s) == (v > 0) for e, s, v in rows)


def test_learned_value_drives_the_search_through_the_oracle():
    class FixedHead:  # stands for ValueHead.value_of_prompts on a backend without hidden states
        def value_of_prompts(self, backend, prompts):
            backend.usage.add(calls=1, prompt_tokens=10)
            return [0.25 for _ in prompts]

    backend = ScriptedBackend(completions=G24_ANSWERS)
    r = AgentSearch(LLMAgentOracle(backend, value_head=FixedHead()), samples=3).run(
        make_env("game24", "4-7-8-8"), Limit(llm_calls=40))
    assert r.solved and r.stats["learned_values"] >= 2
    assert all(n["source"] in ("learned", "reward") for n in r.nodes_data)


@pytest.mark.slow
def test_embedded_model_runs_the_agent_search_and_features():
    pytest.importorskip("transformers")
    from models.llm import TransformersBackend
    from models.llm._agent_oracle import value_prompt
    from models.llm.value_head import hidden_features

    backend = TransformersBackend()
    env = make_env("game24", "4-7-8-8")
    x = hidden_features(backend, [value_prompt(backend, env, env.initial()), "hi"])
    assert x.shape[0] == 2 and x.shape[1] > 100 and np.isfinite(x).all()
    r = AgentSearch(LLMAgentOracle(backend), samples=2).run(env, Limit(llm_calls=4))
    assert r.spent["llm_calls"] <= 4 and r.spent["llm_calls"] >= 1
    assert Evaluation(0.5).source == "prompted"
