"""OpenAI-compatible HTTP backend: vLLM, the llama.cpp server (``llama-server`` or ``llama_cpp.server``), Ollama.

- ``complete`` posts to ``/v1/completions`` (or ``/v1/chat/completions`` with ``api="chat"``; a
  ChatML prompt is turned back into messages). A server that ignores ``n`` (llama.cpp) is asked again
  for the missing samples, and every one of those requests is counted and charged.
- ``score`` uses the fastest request the server answers, found by a capability probe (a few tiny
  requests, counted like any other) the first time it scores (see :data:`SCORING_MODES`):

  - ``"top_logprobs"``: ``/v1/completions`` with the prompt alone, ``max_tokens=1`` and
    ``logprobs=k`` (100, fewer where the server caps it): one request per prompt gives the log-probability of every continuation that is
    one of the ``k`` most likely next tokens (a column of Connect Four, a cell of tic-tac-toe);
  - ``"native"``: llama.cpp's own ``/completion`` with ``n_probs=k``, the same question;
  - ``"echo_batch"``: ``/v1/completions`` with ``echo`` and a list of prompts (vLLM, OpenAI): every
    continuation scored exactly in one request;
  - ``"echo"``: one ``echo`` request per continuation (llama-cpp-python with ``--logits_all``: slow,
    it sorts the whole vocabulary for every echoed token).

  In the two top-``k`` modes a continuation that is not among the ``k`` listed tokens is scored by
  echo when the server can, else it gets the lowest listed log-probability (an upper bound).
- Requests of one batch go out at once over one pooled keep-alive ``httpx`` client (``concurrency``
  at a time, from a pool of daemon threads), each with a timeout and retries with exponential backoff
  on connection errors, 429, 5xx and invalid JSON; a request left hanging never holds up the
  process's exit.
- Every request (retries and probes included) is reserved against the budgets attached to
  ``self.usage`` before it is sent and charged with the ``usage`` the server reports in its reply.
- Faults (HTTP status, timeout, connection, invalid JSON, malformed reply) go to ``self.faults``: the
  first of each kind is logged at WARNING on the ``plytree.llm`` logger, then they are counted.

Configuration (arguments win over the environment): ``PLYTREE_LLM_BASE_URL`` (else
``OPENAI_BASE_URL``, default ``http://127.0.0.1:8000/v1``), ``PLYTREE_LLM_MODEL`` (else
``OPENAI_MODEL``), ``PLYTREE_LLM_API_KEY`` (else ``OPENAI_API_KEY``), ``PLYTREE_LLM_PRICE``.
"""
from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections.abc import Sequence

from models.llm._backend import (
    BaseBackend,
    BudgetExceededError,
    LLMError,
    LLMTimeoutError,
    Reservation,
    count_tokens_estimate,
)
from models.llm._chat import chatml, chatml_to_messages, gguf_chat_template, render_chat_template
from models.llm._daemon_pool import DaemonPool, PoolClosedError

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
SCORING_MODES = ("auto", "top_logprobs", "native", "echo_batch", "echo")
_PROBE_PROMPT = "1 2 3"


def continuation_logprob(tokens: Sequence[str], logprobs: Sequence[float | None], full: str, cont: str,
                         text: str) -> float | None:
    """Sum of the log-probabilities of the echoed tokens that spell ``cont`` at the end of ``full``.

    Servers differ: OpenAI and vLLM list the generated tokens after the echoed ones, llama.cpp does
    not, and llama.cpp's ``text_offset`` skips special tokens. So the tokens are matched from the end:
    the generated text (``text`` past ``full``) is dropped when the tokens end with it, then the
    shortest run of final tokens whose text covers ``cont`` is summed. None when they do not match.
    """
    n = len(tokens)
    joined = "".join(tokens)
    generated = text[len(full):] if text.startswith(full) else ""
    if generated and joined.endswith(cont + generated):
        acc = ""
        while n > 0 and len(acc) < len(generated):
            n -= 1
            acc = tokens[n] + acc
        if acc != generated:
            return None
    acc, total, k = "", 0.0, n
    while k > 0 and len(acc) < len(cont):
        k -= 1
        acc = tokens[k] + acc
        lp = logprobs[k]
        if lp is None:
            return None
        total += float(lp)
    return total if acc.endswith(cont) and len(acc) >= len(cont) and cont else None


def _reply_tokens(reply: dict) -> tuple[int | None, int | None]:
    """Prompt and completion tokens as the server reports them (OpenAI ``usage`` or llama.cpp's
    native ``tokens_evaluated``/``tokens_predicted``), None where it reports none."""
    usage = reply.get("usage")
    if isinstance(usage, dict):
        return usage.get("prompt_tokens"), usage.get("completion_tokens")
    return reply.get("tokens_evaluated"), reply.get("tokens_predicted")


def top_logprobs_of(reply: dict) -> dict[str, float] | None:
    """The next token's listed alternatives ``text -> log-probability`` in a completion reply:
    OpenAI ``choices[0].logprobs.top_logprobs[0]`` or llama.cpp's native ``completion_probabilities``
    (``top_logprobs`` with ``logprob``, or the older ``probs`` with ``prob``). None when absent."""
    try:
        if "completion_probabilities" in reply:
            first = reply["completion_probabilities"][0]
            if "top_logprobs" in first:
                return {str(t["token"]): float(t["logprob"]) for t in first["top_logprobs"]}
            return {str(t["tok_str"]): math.log(max(float(t["prob"]), 1e-45)) for t in first["probs"]}
        top = reply["choices"][0]["logprobs"]["top_logprobs"][0]
        if isinstance(top, dict) and top:
            return {str(k): float(v) for k, v in top.items()}
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None


class HTTPBackend(BaseBackend):
    """A client of an OpenAI-compatible server.

    Args:
        base_url: URL up to and including ``/v1``.
        model: the served model's name.
        api_key: sent as a bearer token.
        api: ``"completions"`` (raw prompts) or ``"chat"`` (messages; for servers without
            ``/v1/completions``).
        scoring: how moves are scored: one of :data:`SCORING_MODES` (``"auto"``: probe the server).
        template: the chat template of ``/v1/completions`` prompts: ``"auto"`` (the server's own, from
            llama.cpp's ``GET /props``, else ChatML), ``"chatml"``, a ``.gguf`` file (its
            ``tokenizer.chat_template``) or a Jinja template text. With ``api="chat"`` the server
            applies its own template to the messages.
        top_k: alternatives asked for in the top-``k`` scoring modes (the probe lowers it to 20 or 5
            when the server refuses more; 100 lists all seven Connect Four columns for SmolLM2).
        unlisted: a move missing from the top-``k`` list: ``"echo"`` (scored exactly by echo requests when
            the server echoes) or ``"floor"`` (the lowest listed log-probability, an upper bound: one
            request per position whatever the moves).
        timeout: seconds per HTTP request.
        retries: further attempts after a failed request.
        backoff: first retry delay in seconds (doubled each time, with jitter).
        concurrency: requests in flight at once.
        cache_size, prices: see ``BaseBackend``.

    Attributes:
        capabilities: what the probe found (``top_logprobs``, ``native``, ``echo_batch``, ``echo``).
        scoring_used: the scoring mode in use (``""`` until the first score).
        template_used: which chat template formats prompts (``""`` until the first prompt).

    Raises:
        ValueError: ``api`` or ``scoring`` is unknown or a number is out of range.
    """

    def __init__(self, base_url: str | None = None, model: str | None = None, *,
                 api_key: str | None = None, api: str = "completions", scoring: str = "auto", top_k: int = 100,
                 template: str = "auto", unlisted: str = "echo",
                 timeout: float = 60.0, retries: int = 2, backoff: float = 0.25, concurrency: int = 8,
                 cache_size: int = 100_000, prices=None) -> None:
        import httpx

        if api not in ("completions", "chat"):
            raise ValueError(f"api must be 'completions' or 'chat', got {api!r}")
        if unlisted not in ("echo", "floor"):
            raise ValueError(f"unlisted must be 'echo' or 'floor', got {unlisted!r}")
        if scoring not in SCORING_MODES:
            raise ValueError(f"scoring must be one of {SCORING_MODES}, got {scoring!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or concurrency < 1 or top_k < 1:
            raise ValueError(f"bad HTTPBackend settings: timeout={timeout}, retries={retries}, backoff={backoff}, "
                             f"concurrency={concurrency}, top_k={top_k}")
        env = os.environ.get
        self.base_url = (base_url or env("PLYTREE_LLM_BASE_URL") or env("OPENAI_BASE_URL")
                         or "http://127.0.0.1:8000/v1").rstrip("/")
        super().__init__(model or env("PLYTREE_LLM_MODEL") or env("OPENAI_MODEL") or "default",
                         cache_size=cache_size, prices=prices)
        self.api_key = api_key if api_key is not None else (env("PLYTREE_LLM_API_KEY") or env("OPENAI_API_KEY"))
        self.api = api
        self.scoring = scoring
        self.top_k = top_k
        self.unlisted = unlisted
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.concurrency = concurrency
        self._httpx = httpx
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers, limits=httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency))
        self._pool = DaemonPool(concurrency, "llm-http")
        self._probe_lock = threading.Lock()
        self.capabilities: dict[str, bool] | None = None
        self.scoring_used = "" if scoring == "auto" else scoring
        self.ignores_n = False
        self.template = template
        self.template_used = "server chat endpoint (api=chat)" if api == "chat" else ""
        self._template_text: str | None = None
        self._template_lock = threading.Lock()
        self.faults.source = f"HTTPBackend({self.base_url!r}, model={self.model!r})"

    # -- prompts ------------------------------------------------------------------------------
    def format_prompt(self, system: str, user: str) -> str:
        """The prompt in the model's own chat template (see ``template``); ChatML for ``api="chat"``,
        whose messages the server formats itself."""
        if self.api == "chat":
            return chatml(system, user)
        with self._template_lock:
            if not self.template_used:
                self._template_text, self.template_used = self._find_template()
        if self._template_text is None:
            return chatml(system, user)
        return render_chat_template(self._template_text, system, user)

    def _find_template(self) -> tuple[str | None, str]:
        t = self.template
        if t == "chatml":
            return None, "chatml"
        if t.endswith(".gguf"):
            text = gguf_chat_template(t)
            return (text, f"gguf metadata of {os.path.basename(t)}") if text else (None, "chatml (no template in the GGUF)")
        if t != "auto":
            return t, "given Jinja template"
        try:  # llama.cpp's server tells its model's template; other servers answer 404
            resp = self._client.get(self.base_url.removesuffix("/v1") + "/props", timeout=min(self.timeout, 5.0))
            text = resp.json().get("chat_template") if resp.status_code == 200 else None
        except (self._httpx.HTTPError, ValueError, AttributeError):
            text = None
        if isinstance(text, str) and text.strip():
            return text, "server (GET /props)"
        return None, "chatml (the server tells no template)"

    # -- transport ----------------------------------------------------------------------------
    def _post(self, path: str, body: dict, res: Reservation | None, estimate: tuple[int, int], *,
              probe: bool = False) -> dict:
        """POSTs ``body`` with retries; every attempt is a request charged to ``res`` (a retry
        reserves one more request first), with the tokens the reply reports (``estimate`` when it
        reports none). ``probe``: one attempt, HTTP and reply errors raised unrecorded.

        Raises:
            BudgetExceededError: a budget cannot pay for a retry.
            LLMError: the server failed ``retries + 1`` times, or answered an error that no retry mends.
        """
        httpx = self._httpx
        url = (self.base_url.removesuffix("/v1") if path == "/completion" else self.base_url) + path
        delay = self.backoff
        last: Exception | None = None
        attempts = 1 if probe else self.retries + 1
        for attempt in range(attempts):
            if attempt:
                self.usage.reserve(1, 0, 0.0, into=res)
            kind = ""
            reply = None
            if self._client.is_closed:  # close() was called: no fault of the model
                raise PoolClosedError(f"{self!r} is closed")
            try:
                resp = self._client.post(url, json=body)
                if resp.status_code >= 400:
                    detail = resp.text[:500]
                    kind, last = f"http_{resp.status_code}", LLMError(f"POST {url}: HTTP {resp.status_code}: {detail}")
                    last.status = resp.status_code  # type: ignore[attr-defined]
                    if resp.status_code not in _RETRY_STATUS or probe:
                        self._charge(res, 0, 0)
                        if not probe:
                            self.faults.record(kind, str(last))
                        raise last
                else:
                    reply = resp.json()
                    if not isinstance(reply, dict):
                        kind, last = "malformed_reply", LLMError(f"POST {url}: the reply is not a JSON object: {str(reply)[:200]}")
                        reply = None
            except httpx.TimeoutException as exc:
                kind, last = "timeout", LLMTimeoutError(f"POST {url}: no answer within {self.timeout} s")
                last.__cause__ = exc
            except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
                kind, last = "invalid_json", LLMError(f"POST {url}: the reply is not JSON: {exc}")
                last.__cause__ = exc
            except (httpx.HTTPError, OSError) as exc:
                kind, last = "connection", LLMError(f"POST {url}: {exc}")
                last.__cause__ = exc
            if reply is not None:
                pt, ct = _reply_tokens(reply)
                self._charge(res, int(pt if pt is not None else estimate[0]), int(ct if ct is not None else estimate[1]))
                return reply
            self._charge(res, 0, 0)  # a request that brought no answer: counted, no tokens reported
            if probe:
                assert last is not None
                raise last
            self.faults.record(kind, str(last))
            if attempt < attempts - 1:
                time.sleep(delay * (1.0 + 0.25 * random.random()))
                delay *= 2
        assert last is not None
        raise last

    def _malformed(self, message: str, exc: Exception | None = None) -> LLMError:
        self.faults.record("malformed_reply", message)
        error = LLMError(message)
        error.__cause__ = exc
        return error

    def _map(self, fn, items: Sequence) -> list:
        # the whole batch goes out at once, `concurrency` requests in flight
        futures = [self._pool.submit(fn, x) for x in items]
        return [f.result() for f in futures]

    # -- the capability probe -------------------------------------------------------------------
    def probe(self) -> dict[str, bool]:
        """Finds which scoring requests the server answers (once; the probe's requests are counted).

        Raises:
            BudgetExceededError: a budget cannot pay for the probe.
            LLMError: the server does not answer a plain completion (the probe is tried again later).
        """
        with self._probe_lock:
            if self.capabilities is not None:
                return self.capabilities
            caps = {}
            p = _PROBE_PROMPT
            est = (count_tokens_estimate(p), 1)
            reply: dict = {}
            # servers cap `logprobs` (vLLM at 20 by default, OpenAI at 5) and refuse more with HTTP 4xx
            ks = sorted({self.top_k, min(self.top_k, 20), min(self.top_k, 5)}, reverse=True)
            for k in ks:
                res = self.usage.reserve(1, self.token_bound(p) + 1, self.price.cost(self.token_bound(p), 1))
                try:  # the server must answer the last (a refusal of `logprobs` aside): its faults are faults
                    reply = self._post("/completions", {"model": self.model, "prompt": p, "max_tokens": 1,
                                                        "temperature": 0.0, "logprobs": k}, res, est,
                                       probe=k != ks[-1])
                except LLMError as exc:
                    if not 400 <= getattr(exc, "status", 0) < 500:
                        raise
                    continue
                finally:
                    self.usage.release(res)
                self.top_k = k
                break
            caps["top_logprobs"] = top_logprobs_of(reply) is not None
            caps["native"] = not caps["top_logprobs"] and self._probe_one(
                "/completion", {"prompt": p, "n_predict": 1, "n_probs": self.top_k, "temperature": 0.0},
                lambda r: top_logprobs_of(r) is not None)
            conts = ("4", " 4")
            caps["echo_batch"] = self._probe_one(
                "/completions", {"model": self.model, "prompt": [p + c for c in conts], "max_tokens": 1,
                                 "temperature": 0.0, "echo": True, "logprobs": 1},
                lambda r: len(r["choices"]) == len(conts) and all(
                    self._echo_score(c, p + conts[c["index"]], conts[c["index"]], record=False) is not None
                    for c in r["choices"]), n_prompts=len(conts))
            caps["echo"] = caps["echo_batch"] or self._probe_one(
                "/completions", {"model": self.model, "prompt": p + "4", "max_tokens": 1, "temperature": 0.0,
                                 "echo": True, "logprobs": 1},
                lambda r: self._echo_score(r["choices"][0], p + "4", "4", record=False) is not None)
            self.capabilities = caps
            if self.scoring == "auto":
                self.scoring_used = next((m for m in ("top_logprobs", "native", "echo_batch", "echo") if caps[m]), "echo")
            return caps

    def _probe_one(self, path: str, body: dict, ok, n_prompts: int = 1) -> bool:
        p = _PROBE_PROMPT
        bound = n_prompts * (self.token_bound(p) + 2)
        res = self.usage.reserve(1, bound, self.price.cost(bound, n_prompts))
        try:
            reply = self._post(path, body, res, (n_prompts * count_tokens_estimate(p), n_prompts), probe=True)
            return bool(ok(reply))
        except BudgetExceededError:
            raise
        except (LLMError, KeyError, IndexError, TypeError, ValueError, AttributeError):
            return False
        finally:
            self.usage.release(res)

    def can_score(self) -> bool:
        """Whether the server gives log-probabilities to score moves with (probes it once)."""
        if self.scoring != "auto":
            return True
        caps = self.probe()
        return any(caps.values())

    # -- scoring ------------------------------------------------------------------------------------
    def _mode(self) -> str:
        if self.scoring == "auto" and self.capabilities is None:
            self.probe()
        return self.scoring_used

    def _score_plan(self, requests):
        mode = self._mode()
        if mode in ("top_logprobs", "native"):  # one request per prompt; echoes reserve on demand
            return len(requests), sum(self.token_bound(p) for p, _ in requests), len(requests)
        pairs = [(p, c) for p, cs in requests for c in cs]
        calls = len(requests) if mode == "echo_batch" else len(pairs)
        return calls, sum(self.token_bound(p + c) for p, c in pairs), len(pairs)

    def _echo_score(self, choice: dict, full: str, cont: str, *, record: bool = True) -> float | None:
        """The continuation's log-likelihood in an echo reply's choice (None, or a fault when
        ``record``, when it has no echoed log-probabilities ending with ``cont``)."""
        try:
            tokens = [t or "" for t in choice["logprobs"]["tokens"]]
            token_lps = choice["logprobs"]["token_logprobs"]
        except (KeyError, IndexError, TypeError) as exc:
            if record:
                raise self._malformed("no echoed logprobs in the server's reply (llama-cpp-python needs "
                                      f"--logits_all true): {str(choice)[:300]}", exc) from exc
            return None
        total = continuation_logprob(tokens, token_lps, full, cont, choice.get("text") or "")
        if total is None and record:
            raise LLMError(f"the server's echo did not end with the continuation {cont!r}: {tokens[-6:]}")
        return total

    def _echo_one(self, item: tuple[str, str, Reservation]) -> float:
        prompt, cont, res = item
        full = prompt + cont
        reply = self._post("/completions", {"model": self.model, "prompt": full, "max_tokens": 1,
                                            "temperature": 0.0, "echo": True, "logprobs": 1},
                           res, (count_tokens_estimate(full), 1))
        choice = (reply.get("choices") or [None])[0]
        return self._echo_score(choice if isinstance(choice, dict) else {}, full, cont)  # type: ignore[return-value]

    def _echo_batch(self, item: tuple[str, Sequence[str], Reservation]) -> list[float]:
        prompt, conts, res = item
        fulls = [prompt + c for c in conts]
        reply = self._post("/completions", {"model": self.model, "prompt": fulls, "max_tokens": 1,
                                            "temperature": 0.0, "echo": True, "logprobs": 1},
                           res, (sum(count_tokens_estimate(f) for f in fulls), len(fulls)))
        choices = reply.get("choices")
        if not isinstance(choices, list) or len(choices) != len(fulls):
            raise self._malformed(f"an echo of {len(fulls)} prompts has {len(choices or [])} choices: {str(reply)[:300]}")
        by_index = {c.get("index", i): c for i, c in enumerate(choices) if isinstance(c, dict)}
        return [self._echo_score(by_index.get(i, {}), f, c) for i, (f, c) in enumerate(zip(fulls, conts))]  # type: ignore[misc]

    def _echo(self, prompt: str, conts: Sequence[str], res: Reservation) -> list[float]:
        if self.scoring_used == "echo_batch" or (self.capabilities or {}).get("echo_batch"):
            return self._echo_batch((prompt, conts, res))
        return self._map(self._echo_one, [(prompt, c, res) for c in conts])

    def _top_one(self, item: tuple[str, Sequence[str], Reservation]) -> list[float]:
        prompt, conts, res = item
        est = (count_tokens_estimate(prompt), 1)
        if self.scoring_used == "native":
            reply = self._post("/completion", {"prompt": prompt, "n_predict": 1, "n_probs": self.top_k,
                                               "temperature": 0.0}, res, est)
        else:
            reply = self._post("/completions", {"model": self.model, "prompt": prompt, "max_tokens": 1,
                                                "temperature": 0.0, "logprobs": self.top_k}, res, est)
        top = top_logprobs_of(reply)
        if not top:
            raise self._malformed(f"no top log-probabilities in the server's reply: {str(reply)[:300]}")
        out = [top.get(c) for c in conts]
        missing = [i for i, lp in enumerate(out) if lp is None]
        if missing:
            if self.unlisted == "echo" and (self.capabilities or {}).get("echo"):
                calls = 1 if (self.capabilities or {}).get("echo_batch") else len(missing)
                bound = sum(self.token_bound(prompt + conts[i]) for i in missing)
                self.usage.reserve(calls, bound + len(missing), self.price.cost(bound, len(missing)), into=res)
                for i, lp in zip(missing, self._echo(prompt, [conts[i] for i in missing], res)):
                    out[i] = lp
            else:  # less likely than every listed token: the lowest listed value bounds it
                floor = min(top.values())
                out = [floor if lp is None else lp for lp in out]
        return [float(x) for x in out]  # type: ignore[arg-type]

    def _score_uncached(self, requests, res):
        mode = self._mode()
        if mode in ("top_logprobs", "native"):
            return self._map(self._top_one, [(p, cs, res) for p, cs in requests])
        if mode == "echo_batch":
            return self._map(self._echo_batch, [(p, cs, res) for p, cs in requests])
        flat = self._map(self._echo_one, [(p, c, res) for p, cs in requests for c in cs])
        out, k = [], 0
        for _, cs in requests:
            out.append(flat[k:k + len(cs)])
            k += len(cs)
        return out

    # -- completions ------------------------------------------------------------------------------
    def _complete_plan(self, prompts, max_tokens, n, temperature):
        calls, prompt_tokens, completion_tokens = super()._complete_plan(prompts, max_tokens, n, temperature)
        if self._one_by_one(n, temperature):  # one request per sample
            return calls * n, prompt_tokens * n, completion_tokens
        return calls, prompt_tokens, completion_tokens

    def _one_by_one(self, n: int, temperature: float) -> bool:
        return self.ignores_n and n > 1 and temperature > 0

    def _complete_one(self, item) -> list[str]:
        prompt, max_tokens, temperature, n, stop, res = item
        if self._one_by_one(n, temperature):  # the plan reserved one request per sample
            return [t for _ in range(n) for t in self._complete_request(prompt, max_tokens, temperature, 1, stop, res)]
        texts = self._complete_request(prompt, max_tokens, temperature, n, stop, res)
        if 0 < len(texts) < n and temperature > 0:
            self.ignores_n = True  # llama.cpp: ask again, one request per missing sample
        while 0 < len(texts) < n and temperature > 0:
            bound = self.token_bound(prompt)
            try:  # the plan did not know: each further request must fit the budget
                self.usage.reserve(1, bound + max_tokens, self.price.cost(bound, max_tokens), into=res)
            except BudgetExceededError:
                break  # the samples already paid for are the answer
            more = self._complete_request(prompt, max_tokens, temperature, 1, stop, res)
            if not more:
                break
            texts.extend(more)
        return texts[:n]

    def _complete_request(self, prompt: str, max_tokens: int, temperature: float, n: int, stop, res) -> list[str]:
        body = {"model": self.model, "max_tokens": max_tokens, "temperature": temperature, "n": n}
        if stop:
            body["stop"] = list(stop)
        if self.api == "chat":
            body["messages"] = chatml_to_messages(prompt)
            path = "/chat/completions"
            get = lambda c: (c.get("message") or {}).get("content") or ""
        else:
            body["prompt"] = prompt
            path = "/completions"
            get = lambda c: c.get("text") or ""
        reply = self._post(path, body, res, (count_tokens_estimate(prompt), n * max_tokens))
        try:
            choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
            texts = [get(c) for c in choices]
            if not all(isinstance(t, str) for t in texts):
                raise TypeError("a choice's text is not a string")
        except (KeyError, TypeError, AttributeError) as exc:
            raise self._malformed(f"malformed completion reply: {str(reply)[:300]}", exc) from exc
        return texts

    def _complete_uncached(self, prompts, max_tokens, temperature, n, stop, res):
        texts = self._map(self._complete_one, [(p, max_tokens, temperature, n, stop, res) for p in prompts])
        # greedy answers are all the same, and a budget may stop further samples: repeat those there are
        return [[t[i % len(t)] if t else "" for i in range(n)] for t in texts]

    def close(self) -> None:
        """Cancels queued requests (running ones end at their timeout), closes the connections and
        logs the fault counts."""
        self._pool.shutdown()
        self._client.close()
        self.faults.summarize()
