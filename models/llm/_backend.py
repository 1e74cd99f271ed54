"""The language-model backend protocol, its accounting, its cache and its errors.

Every backend (scripted table, in-process transformers, OpenAI-compatible HTTP) answers two questions:

- ``score(prompt, continuations)``: the log-likelihood of each continuation after the prompt (how a
  move's text is scored), batched over continuations; ``score_batch`` batches over prompts too.
- ``complete(prompts, max_tokens=, temperature=, n=, stop=)``: ``n`` sampled texts per prompt.

``BaseBackend`` gives a backend the cache keyed by ``(model, prompt, params)`` and the accounting of
calls, tokens and seconds (``Usage``) that searches charge against ``Limit(llm_calls=, tokens=)``;
a concrete backend implements only ``_score_uncached`` and ``_complete_uncached``.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import CancelledError
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from models.llm._chat import chatml
from models.llm._daemon_pool import PoolClosedError
from models.llm._faults import FaultLog


class LLMError(RuntimeError):
    """A language-model backend failed (server error, bad reply, model fault); the cause is attached."""


class LLMTimeoutError(LLMError):
    """A language-model call took longer than its timeout."""


@dataclass(frozen=True)
class UsageSnapshot:
    """Counters of a backend at one moment (subtract two to get what a search spent).

    Attributes:
        calls: model calls made (cache hits not included; a batch of ``k`` requests counts ``k``).
        prompt_tokens, completion_tokens: tokens read and written by those calls.
        seconds: wall time spent inside uncached calls.
        cache_hits: requests answered from the cache.
        errors: calls that raised, and calls a search abandoned at their deadline (an abandoned call
            that later fails in its thread counts again).
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cache_hits: int = 0
    errors: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __sub__(self, other: UsageSnapshot) -> UsageSnapshot:
        return UsageSnapshot(
            self.calls - other.calls,
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.seconds - other.seconds,
            self.cache_hits - other.cache_hits,
            self.errors - other.errors,
        )

    def as_dict(self) -> dict:
        return {
            "llm_calls": self.calls,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "llm_seconds": round(self.seconds, 4),
            "cache_hits": self.cache_hits,
            "llm_errors": self.errors,
        }


class Usage:
    """Thread-safe running counters of one backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c = dict(calls=0, prompt_tokens=0, completion_tokens=0, seconds=0.0, cache_hits=0, errors=0)

    def add(self, **counts: float) -> None:
        with self._lock:
            for k, v in counts.items():
                self._c[k] += v

    def snapshot(self) -> UsageSnapshot:
        with self._lock:
            return UsageSnapshot(**self._c)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Usage({self.snapshot()})"


class LRUCache:
    """A bounded, thread-safe mapping with least-recently-used eviction."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: Hashable, value: Any) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@runtime_checkable
class LLMBackend(Protocol):
    """What searches and evaluators need of a language model."""

    model: str
    usage: Usage

    def score(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """Log-likelihood (natural log, summed over tokens) of each continuation right after ``prompt``."""

    def score_batch(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """``score`` for several ``(prompt, continuations)`` pairs at once."""

    def complete(self, prompts: Sequence[str], *, max_tokens: int = 16, temperature: float = 0.0,
                 n: int = 1, stop: Sequence[str] | None = None) -> list[list[str]]:
        """``n`` completions of each prompt: a list (one per prompt) of ``n`` texts."""


def count_tokens_estimate(text: str) -> int:
    """A rough token count (about four characters a token) for backends that report none."""
    return max(1, (len(text) + 3) // 4) if text else 0


class BaseBackend:
    """Cache and accounting around the two uncached primitives a backend implements.

    Args:
        model: the model's name (part of every cache key).
        cache_size: cached requests kept (0 turns the cache off).

    Attributes:
        faults: the ``FaultLog`` of this backend (first fault of each kind logged, the rest counted).
    """

    def __init__(self, model: str, *, cache_size: int = 100_000) -> None:
        self.model = model
        self.usage = Usage()
        self.cache = LRUCache(cache_size)
        self.faults = FaultLog(f"{type(self).__name__}(model={model!r})")

    # -- what a backend implements ------------------------------------------------------------
    def _score_uncached(self, requests: Sequence[tuple[str, tuple[str, ...]]]) -> tuple[list[list[float]], int]:
        """Scores requests; returns the log-likelihoods and the number of prompt tokens read."""
        raise NotImplementedError

    def _complete_uncached(self, prompts: Sequence[str], max_tokens: int, temperature: float, n: int,
                           stop: tuple[str, ...]) -> tuple[list[list[str]], int, int]:
        """Completes prompts; returns the texts, prompt tokens and completion tokens."""
        raise NotImplementedError

    # -- the protocol ---------------------------------------------------------------------------
    def score(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """See :meth:`LLMBackend.score`."""
        return self.score_batch([(prompt, continuations)])[0]

    def score_batch(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """See :meth:`LLMBackend.score_batch`; cached requests are not sent again.

        Raises:
            LLMError: the model failed (the cause is attached).
        """
        reqs = [(str(p), tuple(str(c) for c in cs)) for p, cs in requests]
        out, todo = self._cached([(self.model, "score", p, cs) for p, cs in reqs])
        if todo:
            results, prompt_tokens = self._timed(self._score_uncached, [reqs[i] for i in todo], count=len(todo))
            for i, r in zip(todo, results):
                self.cache.put((self.model, "score", reqs[i][0], reqs[i][1]), tuple(r))
                out[i] = list(r)
            self.usage.add(prompt_tokens=prompt_tokens)
        return out  # type: ignore[return-value]

    def complete(self, prompts: Sequence[str], *, max_tokens: int = 16, temperature: float = 0.0,
                 n: int = 1, stop: Sequence[str] | None = None) -> list[list[str]]:
        """See :meth:`LLMBackend.complete`; cached (prompt, params) pairs are not sent again.

        Raises:
            ValueError: ``max_tokens`` or ``n`` is not positive, or ``temperature`` is negative.
            LLMError: the model failed (the cause is attached).
        """
        if max_tokens < 1 or n < 1 or temperature < 0:
            raise ValueError(f"complete: need max_tokens >= 1, n >= 1, temperature >= 0; got {max_tokens}, {n}, {temperature}")
        stops = tuple(stop or ())
        params = (max_tokens, float(temperature), n, stops)
        out, todo = self._cached([(self.model, "complete", p, params) for p in prompts])
        if todo:
            texts, pt, ct = self._timed(self._complete_uncached, [prompts[i] for i in todo], max_tokens,
                                        float(temperature), n, stops, count=len(todo))
            for i, t in zip(todo, texts):
                t = [truncate_at_stop(x, stops) for x in t]
                self.cache.put((self.model, "complete", prompts[i], params), tuple(t))
                out[i] = t
            self.usage.add(prompt_tokens=pt, completion_tokens=ct)
        return out  # type: ignore[return-value]

    def _cached(self, keys: list[tuple]) -> tuple[list, list[int]]:
        """The cached answer for each key (None where absent) and the indices still to ask;
        hits are counted in the usage."""
        out: list = [None] * len(keys)
        todo: list[int] = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key)
            if hit is not None:
                out[i] = list(hit)
            else:
                todo.append(i)
        if len(keys) > len(todo):
            self.usage.add(cache_hits=len(keys) - len(todo))
        return out, todo

    def _timed(self, fn, *args, count: int):
        t0 = time.perf_counter()
        try:
            result = fn(*args)
        except LLMError:
            self.usage.add(errors=1, seconds=time.perf_counter() - t0)
            raise
        except Exception as exc:  # a model fault of any kind is a RuntimeError with the cause attached
            self.usage.add(errors=1, seconds=time.perf_counter() - t0)
            if not isinstance(exc, (CancelledError, PoolClosedError)):  # a closed backend is no model fault
                self.faults.record(type(exc).__name__, str(exc)[:200])
            raise LLMError(f"{type(self).__name__}({self.model!r}) failed: {exc}") from exc
        self.usage.add(calls=count, seconds=time.perf_counter() - t0)
        return result

    def format_prompt(self, system: str, user: str) -> str:
        """The model's chat prompt for a system and a user message, ending where its answer begins
        (ChatML unless the backend knows its model's own template)."""
        return chatml(system, user)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


def truncate_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` cut before the first occurrence of any stop string."""
    cut = len(text)
    for s in stops:
        if s:
            j = text.find(s)
            if 0 <= j < cut:
                cut = j
    return text[:cut]
