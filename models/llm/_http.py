"""OpenAI-compatible HTTP backend: vLLM, the llama.cpp server (``llama_cpp.server``), Ollama.

- ``complete`` posts to ``/v1/completions`` (or ``/v1/chat/completions`` with ``api="chat"``; a
  ChatML prompt is turned back into messages).
- ``score`` posts the prompt plus each continuation to ``/v1/completions`` with ``echo: true`` and
  ``logprobs``, and sums the log-probabilities of the final echoed tokens that spell the continuation
  (see ``continuation_logprob``); the server must keep logits for the whole prompt (llama.cpp:
  ``--logits_all true``).
- Requests of one batch go out at once from a pool of daemon threads (``concurrency`` at a time), each
  with a timeout and retries with exponential backoff on connection errors, 429, 5xx and invalid JSON;
  a request left hanging never holds up the process's exit.
- Faults (HTTP status, timeout, connection, invalid JSON, malformed reply) go to ``self.faults``: the
  first of each kind is logged at WARNING on the ``plytree.llm`` logger, then they are counted.

Configuration (arguments win over the environment): ``PLYTREE_LLM_BASE_URL`` (else
``OPENAI_BASE_URL``, default ``http://127.0.0.1:8000/v1``), ``PLYTREE_LLM_MODEL`` (else
``OPENAI_MODEL``), ``PLYTREE_LLM_API_KEY`` (else ``OPENAI_API_KEY``).
"""
from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from models.llm._backend import (
    BaseBackend,
    LLMError,
    LLMTimeoutError,
    count_tokens_estimate,
)
from models.llm._chat import chatml_to_messages
from models.llm._daemon_pool import DaemonPool

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


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


class HTTPBackend(BaseBackend):
    """A client of an OpenAI-compatible server.

    Args:
        base_url: URL up to and including ``/v1``.
        model: model name sent with each request.
        api_key: sent as ``Authorization: Bearer``; None sends none.
        api: ``"completions"`` or ``"chat"`` for ``complete`` (scoring always uses completions).
        timeout: seconds per HTTP request.
        retries: further attempts after a failed request.
        backoff: first retry delay in seconds (doubled each time, with jitter).
        concurrency: requests in flight at once.
        cache_size: see ``BaseBackend``.

    Raises:
        ValueError: ``api`` is unknown or a number is out of range.
    """

    def __init__(self, base_url: str | None = None, model: str | None = None, *,
                 api_key: str | None = None, api: str = "completions", timeout: float = 60.0,
                 retries: int = 2, backoff: float = 0.25, concurrency: int = 8, cache_size: int = 100_000) -> None:
        if api not in ("completions", "chat"):
            raise ValueError(f"api must be 'completions' or 'chat', got {api!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or concurrency < 1:
            raise ValueError(f"bad HTTPBackend settings: timeout={timeout}, retries={retries}, backoff={backoff}, concurrency={concurrency}")
        env = os.environ.get
        self.base_url = (base_url or env("PLYTREE_LLM_BASE_URL") or env("OPENAI_BASE_URL")
                         or "http://127.0.0.1:8000/v1").rstrip("/")
        super().__init__(model or env("PLYTREE_LLM_MODEL") or env("OPENAI_MODEL") or "default", cache_size=cache_size)
        self.api_key = api_key if api_key is not None else (env("PLYTREE_LLM_API_KEY") or env("OPENAI_API_KEY"))
        self.api = api
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.concurrency = concurrency
        self._pool = DaemonPool(concurrency, "llm-http")
        self.requests_sent = 0
        self.faults.source = f"HTTPBackend({self.base_url!r}, model={self.model!r})"

    # -- transport ----------------------------------------------------------------------------
    def _post(self, path: str, body: dict) -> dict:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        delay = self.backoff
        last: Exception | None = None
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            kind = ""
            try:
                self.requests_sent += 1
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    reply = json.loads(resp.read().decode())
                if isinstance(reply, dict):
                    return reply
                kind, last = "malformed_reply", LLMError(f"POST {url}: the reply is not a JSON object: {str(reply)[:200]}")
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:500].decode(errors="replace")
                kind, last = f"http_{exc.code}", LLMError(f"POST {url}: HTTP {exc.code}: {detail}")
                last.__cause__ = exc
                if exc.code not in _RETRY_STATUS:
                    self.faults.record(kind, str(last))
                    raise last from exc
            except TimeoutError as exc:
                kind, last = "timeout", LLMTimeoutError(f"POST {url}: no answer within {self.timeout} s")
                last.__cause__ = exc
            except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
                kind, last = "invalid_json", LLMError(f"POST {url}: the reply is not JSON: {exc}")
                last.__cause__ = exc
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                if isinstance(getattr(exc, "reason", None), TimeoutError):
                    kind, last = "timeout", LLMTimeoutError(f"POST {url}: no answer within {self.timeout} s")
                else:
                    kind, last = "connection", LLMError(f"POST {url}: {exc}")
                last.__cause__ = exc
            self.faults.record(kind, str(last))
            if attempt < self.retries:
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

    # -- the primitives -----------------------------------------------------------------------
    def _score_one(self, item: tuple[str, str]) -> tuple[float, int]:
        prompt, cont = item
        reply = self._post("/completions", {"model": self.model, "prompt": prompt + cont, "max_tokens": 1,
                                            "temperature": 0.0, "echo": True, "logprobs": 1})
        try:
            choice = reply["choices"][0]
            tokens = [t or "" for t in choice["logprobs"]["tokens"]]
            token_lps = choice["logprobs"]["token_logprobs"]
        except (KeyError, IndexError, TypeError) as exc:
            raise self._malformed("no echoed logprobs in the server's reply (start llama.cpp with --logits_all true): "
                                  f"{str(reply)[:300]}", exc) from exc
        total = continuation_logprob(tokens, token_lps, prompt + cont, cont, choice.get("text") or "")
        if total is None:
            raise LLMError(f"the server's echo did not end with the continuation {cont!r}: {tokens[-6:]}")
        usage = reply.get("usage") or {}
        return total, int(usage.get("prompt_tokens") or count_tokens_estimate(prompt + cont))

    def _score_uncached(self, requests):
        flat = [(p, c) for p, cs in requests for c in cs]
        results = self._map(self._score_one, flat)
        out, k = [], 0
        for _, cs in requests:
            out.append([results[k + j][0] for j in range(len(cs))])
            k += len(cs)
        return out, sum(t for _, t in results)

    def _complete_one(self, item) -> tuple[list[str], int, int]:
        prompt, max_tokens, temperature, n, stop = item
        body = {"model": self.model, "max_tokens": max_tokens, "temperature": temperature, "n": n}
        if stop:
            body["stop"] = list(stop)
        if self.api == "chat":
            body["messages"] = chatml_to_messages(prompt)
            reply = self._post("/chat/completions", body)
            get = lambda c: (c.get("message") or {}).get("content") or ""
        else:
            body["prompt"] = prompt
            reply = self._post("/completions", body)
            get = lambda c: c.get("text") or ""
        try:
            choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
            texts = [get(c) for c in choices]
            if not all(isinstance(t, str) for t in texts):
                raise TypeError("a choice's text is not a string")
        except (KeyError, TypeError, AttributeError) as exc:
            raise self._malformed(f"malformed completion reply: {str(reply)[:300]}", exc) from exc
        while len(texts) < n:  # servers that ignore `n` (llama.cpp) get asked again
            more, _, _ = self._complete_one((prompt, max_tokens, temperature, n - len(texts), stop))
            texts.extend(more)
            if temperature == 0 or not more:
                break
        usage = reply.get("usage") or {}
        pt = int(usage.get("prompt_tokens") or count_tokens_estimate(prompt))
        ct = int(usage.get("completion_tokens") or sum(count_tokens_estimate(t) for t in texts))
        return texts[:n], pt, ct

    def _complete_uncached(self, prompts, max_tokens, temperature, n, stop):
        results = self._map(self._complete_one, [(p, max_tokens, temperature, n, stop) for p in prompts])
        texts = [r[0] for r in results]
        while any(len(t) < n for t in texts):  # greedy answers are all the same: repeat the first
            texts = [t + [t[0] if t else ""] * (n - len(t)) for t in texts]
        return texts, sum(r[1] for r in results), sum(r[2] for r in results)

    def close(self) -> None:
        """Cancels queued requests (running ones end at their timeout) and logs the fault counts."""
        self._pool.shutdown()
        self.faults.summarize()
