"""The language-model backend protocol, its accounting, its cache and its errors.

Every backend (scripted table, in-process transformers, OpenAI-compatible HTTP) answers two questions:

- ``score(prompt, continuations)``: the log-likelihood of each continuation after the prompt (how a
  move's text is scored), batched over continuations; ``score_batch`` batches over prompts too.
- ``complete(prompts, max_tokens=, temperature=, n=, stop=)``: ``n`` sampled texts per prompt.

``BaseBackend`` gives a backend the cache keyed by ``(model, prompt, params)`` and the accounting of
requests, tokens, money and seconds (``Usage``) that searches charge against
``Limit(llm_calls=, tokens=, money=)``; a concrete backend implements only ``_score_uncached`` and
``_complete_uncached``, and charges each request it makes with ``_charge``.

Budgets are promises: before a batch is sent, ``BaseBackend`` reserves an upper bound of its cost
(requests, tokens, money) with ``Usage.reserve``; a budget attached to the usage (``Usage.add_guard``,
done by ``mcts.LLMBudget``) that cannot pay refuses, and nothing is sent (``BudgetExceededError``).
Each reply is then charged as the server reports it (``usage`` of the reply) and the rest of the
reservation is released.
"""
from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import CancelledError
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from models.llm._chat import chatml
from models.llm._daemon_pool import PoolClosedError
from models.llm._faults import FaultLog


class LLMError(RuntimeError):
    """A language-model backend failed (server error, bad reply, model fault); the cause is attached."""


class LLMTimeoutError(LLMError):
    """A language-model call took longer than its timeout."""


class BudgetExceededError(LLMError):
    """A request was not sent: a budget attached to the backend's usage cannot pay for it.

    Attributes:
        reason: the limit that refused (``"llm_calls"``, ``"tokens"``, ``"money"`` or ``"time"``).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Price:
    """What a model's tokens cost, in money units (dollars, say) per 1,000 tokens.

    Attributes:
        prompt: per 1,000 prompt (input) tokens.
        completion: per 1,000 completion (output) tokens.
    """

    prompt: float = 0.0
    completion: float = 0.0

    def __post_init__(self) -> None:
        if not (self.prompt >= 0 and self.completion >= 0):
            raise ValueError(f"prices must be non-negative numbers, got {self.prompt}, {self.completion}")

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        """The price of ``prompt_tokens`` read and ``completion_tokens`` written."""
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1000.0


def price_of(model: str, prices: Mapping[str, Price | tuple[float, float]] | Price | None = None) -> Price:
    """The price of ``model``: from ``prices`` (a ``Price``, or a table ``model -> Price or
    (prompt, completion)`` per 1,000 tokens, ``"*"`` for any model), else ``$PLYTREE_LLM_PRICE``
    (``"prompt,completion"``), else free.

    Raises:
        ValueError: a price is malformed or negative.
    """
    if isinstance(prices, Price):
        return prices
    if prices:
        entry = prices.get(model, prices.get("*"))
        if entry is not None:
            return entry if isinstance(entry, Price) else Price(*map(float, entry))
    env = os.environ.get("PLYTREE_LLM_PRICE", "").strip()
    if env:
        try:
            prompt, completion = (float(x) for x in env.split(","))
        except ValueError:
            raise ValueError(f"PLYTREE_LLM_PRICE must be 'prompt,completion' per 1k tokens, got {env!r}") from None
        return Price(prompt, completion)
    return Price()


@dataclass
class Reservation:
    """What a batch of requests may still cost (an upper bound), held in a ``Usage`` until released."""

    calls: int = 0
    tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True)
class UsageSnapshot:
    """Counters of a backend at one moment (subtract two to get what a search spent).

    Attributes:
        calls: requests made to the model (cache hits not included): every HTTP request, retries
            and repeated requests for servers that ignore ``n`` included; in process, every prompt.
        prompt_tokens, completion_tokens: tokens read and written by those requests, as the server
            reported them.
        cost: their price (``Price``), in money units.
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
    cost: float = 0.0

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
            self.cost - other.cost,
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
            "llm_cost": round(self.cost, 6),
        }


class Usage:
    """Thread-safe running counters of one backend, the reservations of requests in flight, and the
    budgets (guards) that admit or refuse new reservations."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._c = dict(calls=0, prompt_tokens=0, completion_tokens=0, seconds=0.0, cache_hits=0, errors=0, cost=0.0)
        self._reserved = Reservation()
        self._guards: weakref.WeakSet = weakref.WeakSet()

    def add(self, **counts: float) -> None:
        with self._lock:
            for k, v in counts.items():
                self._c[k] += v

    def snapshot(self) -> UsageSnapshot:
        with self._lock:
            return UsageSnapshot(**self._c)  # type: ignore[arg-type]

    # -- budgets --------------------------------------------------------------------------------
    def add_guard(self, guard: Any) -> None:
        """Makes ``guard.refusal(after)`` decide every later reservation: ``after`` is a
        ``UsageSnapshot`` of the counters as if every reservation, the new one included, were spent;
        a non-empty answer (the reason) refuses it. Held weakly: a guard that is dropped stops guarding."""
        with self._lock:
            self._guards.add(guard)

    def remove_guard(self, guard: Any) -> None:
        with self._lock:
            self._guards.discard(guard)

    def reserve(self, calls: int, tokens: int, cost: float, into: Reservation | None = None) -> Reservation:
        """Reserves an upper bound of what requests will cost (added to ``into`` when given).

        Raises:
            BudgetExceededError: a guard cannot pay for it (nothing is reserved).
        """
        with self._lock:
            r, c = self._reserved, self._c
            after = UsageSnapshot(calls=c["calls"] + r.calls + calls,
                                  prompt_tokens=c["prompt_tokens"] + r.tokens + tokens,
                                  completion_tokens=c["completion_tokens"], seconds=c["seconds"],
                                  cache_hits=c["cache_hits"], errors=c["errors"], cost=c["cost"] + r.cost + cost)
            for guard in list(self._guards):
                reason = guard.refusal(after)
                if reason:
                    raise BudgetExceededError(reason, f"the budget cannot pay for {calls} more request(s), "
                                                      f"up to {tokens} tokens and {cost:.6g} money: {reason} spent")
            r.calls, r.tokens, r.cost = r.calls + calls, r.tokens + tokens, r.cost + cost
            res = into if into is not None else Reservation()
            res.calls, res.tokens, res.cost = res.calls + calls, res.tokens + tokens, res.cost + cost
            return res

    def charge(self, res: Reservation | None, *, calls: int = 1, prompt_tokens: int = 0,
               completion_tokens: int = 0, cost: float = 0.0) -> None:
        """Counts requests made, with their tokens and cost as reported, out of ``res``."""
        with self._lock:
            c = self._c
            c["calls"] += calls
            c["prompt_tokens"] += prompt_tokens
            c["completion_tokens"] += completion_tokens
            c["cost"] += cost
            if res is not None:
                self._take(res, calls, prompt_tokens + completion_tokens, cost)

    def release(self, res: Reservation) -> None:
        """Gives back what ``res`` still holds (its requests were made or will not be)."""
        with self._lock:
            self._take(res, res.calls, res.tokens, res.cost)

    def _take(self, res: Reservation, calls: int, tokens: int, cost: float) -> None:
        calls, tokens, cost = min(calls, res.calls), min(tokens, res.tokens), min(cost, res.cost)
        res.calls, res.tokens, res.cost = res.calls - calls, res.tokens - tokens, res.cost - cost
        r = self._reserved
        r.calls, r.tokens, r.cost = r.calls - calls, r.tokens - tokens, max(0.0, r.cost - cost)

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
    """Cache, budget reservations and accounting around the two uncached primitives a backend implements.

    Args:
        model: the model's name (part of every cache key).
        cache_size: cached requests kept (0 turns the cache off).
        prices: what the model's tokens cost (see :func:`price_of`; default free).

    Attributes:
        faults: the ``FaultLog`` of this backend (first fault of each kind logged, the rest counted).
        price: the model's ``Price``.
    """

    def __init__(self, model: str, *, cache_size: int = 100_000,
                 prices: Mapping[str, Price | tuple[float, float]] | Price | None = None) -> None:
        self.model = model
        self.usage = Usage()
        self.cache = LRUCache(cache_size)
        self.faults = FaultLog(f"{type(self).__name__}(model={model!r})")
        self.price = price_of(model, prices)

    # -- what a backend implements ------------------------------------------------------------
    def _score_uncached(self, requests: Sequence[tuple[str, tuple[str, ...]]], res: Reservation) -> list[list[float]]:
        """Scores requests (charging each request made with ``_charge``); returns the log-likelihoods."""
        raise NotImplementedError

    def _complete_uncached(self, prompts: Sequence[str], max_tokens: int, temperature: float, n: int,
                           stop: tuple[str, ...], res: Reservation) -> list[list[str]]:
        """Completes prompts (charging each request made with ``_charge``); returns the texts."""
        raise NotImplementedError

    def token_bound(self, text: str) -> int:
        """An upper bound of the tokens ``text`` can take (a token spells at least one byte, plus a
        start token); a backend that knows its tokenizer counts exactly."""
        return len(text.encode("utf-8")) + 2 if text else 0

    def _score_plan(self, requests: Sequence[tuple[str, tuple[str, ...]]]) -> tuple[int, int, int]:
        """Requests, prompt tokens and completion tokens that scoring ``requests`` can cost at most
        (one request per prompt, reading the prompt and its continuations)."""
        tokens = sum(self.token_bound(p) + sum(self.token_bound(c) for c in cs) for p, cs in requests)
        return len(requests), tokens, 0

    def _complete_plan(self, prompts: Sequence[str], max_tokens: int, n: int,
                       temperature: float) -> tuple[int, int, int]:
        """Requests, prompt tokens and completion tokens that completing ``prompts`` can cost at most."""
        return len(prompts), sum(self.token_bound(p) for p in prompts), len(prompts) * n * max_tokens

    def _charge(self, res: Reservation | None, prompt_tokens: int, completion_tokens: int, calls: int = 1) -> None:
        """Counts ``calls`` requests made, with the tokens they took and their price."""
        self.usage.charge(res, calls=calls, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                          cost=self.price.cost(prompt_tokens, completion_tokens))

    def _reserve(self, plan: tuple[int, int, int]) -> Reservation:
        calls, prompt_tokens, completion_tokens = plan
        return self.usage.reserve(calls, prompt_tokens + completion_tokens,
                                  self.price.cost(prompt_tokens, completion_tokens))

    # -- the protocol ---------------------------------------------------------------------------
    def score(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """See :meth:`LLMBackend.score`."""
        return self.score_batch([(prompt, continuations)])[0]

    def score_batch(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """See :meth:`LLMBackend.score_batch`; cached requests are not sent again.

        Raises:
            BudgetExceededError: a budget cannot pay for the requests (none was sent).
            LLMError: the model failed (the cause is attached).
        """
        reqs = [(str(p), tuple(str(c) for c in cs)) for p, cs in requests]
        out, todo = self._cached([(self.model, "score", p, cs) for p, cs in reqs])
        if todo:
            batch = [reqs[i] for i in todo]
            res = self._timed(lambda: self._reserve(self._score_plan(batch)))  # a probe may fail here
            try:
                results = self._timed(self._score_uncached, batch, res)
            finally:
                self.usage.release(res)
            for i, r in zip(todo, results):
                self.cache.put((self.model, "score", reqs[i][0], reqs[i][1]), tuple(r))
                out[i] = list(r)
        return out  # type: ignore[return-value]

    def complete(self, prompts: Sequence[str], *, max_tokens: int = 16, temperature: float = 0.0,
                 n: int = 1, stop: Sequence[str] | None = None) -> list[list[str]]:
        """See :meth:`LLMBackend.complete`; cached (prompt, params) pairs are not sent again.

        Raises:
            ValueError: ``max_tokens`` or ``n`` is not positive, or ``temperature`` is negative.
            BudgetExceededError: a budget cannot pay for the requests (none was sent).
            LLMError: the model failed (the cause is attached).
        """
        if max_tokens < 1 or n < 1 or temperature < 0:
            raise ValueError(f"complete: need max_tokens >= 1, n >= 1, temperature >= 0; got {max_tokens}, {n}, {temperature}")
        stops = tuple(stop or ())
        params = (max_tokens, float(temperature), n, stops)
        out, todo = self._cached([(self.model, "complete", p, params) for p in prompts])
        if todo:
            batch = [prompts[i] for i in todo]
            res = self._reserve(self._complete_plan(batch, max_tokens, n, float(temperature)))
            try:
                texts = self._timed(self._complete_uncached, batch, max_tokens, float(temperature), n, stops, res)
            finally:
                self.usage.release(res)
            for i, t in zip(todo, texts):
                t = [truncate_at_stop(x, stops) for x in t]
                self.cache.put((self.model, "complete", prompts[i], params), tuple(t))
                out[i] = t
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

    def _timed(self, fn, *args):
        t0 = time.perf_counter()
        try:
            result = fn(*args)
        except BudgetExceededError:  # a request the budget refused was not sent: no fault
            self.usage.add(seconds=time.perf_counter() - t0)
            raise
        except LLMError:
            self.usage.add(errors=1, seconds=time.perf_counter() - t0)
            raise
        except Exception as exc:  # a model fault of any kind is a RuntimeError with the cause attached
            self.usage.add(errors=1, seconds=time.perf_counter() - t0)
            if not isinstance(exc, (CancelledError, PoolClosedError)):  # a closed backend is no model fault
                self.faults.record(type(exc).__name__, str(exc)[:200])
            raise LLMError(f"{type(self).__name__}({self.model!r}) failed: {exc}") from exc
        self.usage.add(seconds=time.perf_counter() - t0)
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
