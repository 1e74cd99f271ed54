"""A language model as policy, value and opponent model for one game (what searches ask of it).

- Priors: the log-likelihood of each legal move's text after the policy prompt (one batched ``score``
  call for many states), softmax with a temperature.
- Sampling: ``k`` answers to the policy prompt, each mapped onto a legal move; duplicates removed,
  answers that are no legal move counted (``stats["illegal_answers"]``) and dropped.
- Value: the value prompt asks for a 1-100 score, parsed robustly and mapped to [-1, 1]; a garbled
  answer, a model error or a timeout falls back to a heuristic evaluator.

Faults are never silent: a timeout counts as an error in the backend's ``usage``, and timeouts,
answers that are no legal move and values that cannot be read go to the backend's ``FaultLog`` (the
first of each kind logged at WARNING on ``plytree.llm``, the rest counted). Calls run in daemon
threads, so a call abandoned at its deadline never holds up the process's exit.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from models.llm._backend import BudgetExceededError, LLMError, LLMTimeoutError
from models.llm._daemon_pool import DaemonPool
from models.llm._faults import FaultLog
from models.llm._prompts import PromptSet

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(%|/\s*100|/\s*10\b)?")
_TOKEN = re.compile(r"[A-Za-z0-9@=+#\-()]+")


def parse_score(text: str) -> float | None:
    """The 1-100 score in a model's answer, or None when there is none.

    Takes the first number in the text: ``"85"``, ``"Score: 85/100"``, ``"85%"``, ``"7/10"``
    (scaled to 70), ``"0.85"`` (a probability, scaled to 85). Numbers out of range are clipped to
    [1, 100]; negative signs are ignored (a negative score is not a valid answer).
    """
    if not isinstance(text, str):
        return None
    for m in _NUMBER.finditer(text):
        try:
            x = float(m.group(1))
        except ValueError:  # pragma: no cover - the regex only matches numbers
            continue
        if math.isnan(x) or math.isinf(x):
            continue
        suffix = (m.group(2) or "").replace(" ", "")
        if suffix == "/10":
            x *= 10.0
        elif suffix not in ("%", "/100") and "." in m.group(1) and 0.0 <= x <= 1.0:
            x *= 100.0
        if x > 1000:  # a year, a count of something: not a score
            continue
        return float(min(100.0, max(1.0, x)))
    return None


def score_to_value(score: float) -> float:
    """Maps a 1-100 score onto a value in [-1, 1] (1 -> -1, 50.5 -> 0, 100 -> 1)."""
    return float(max(-1.0, min(1.0, (score - 50.5) / 49.5)))


def softmax(logps: Sequence[float], temperature: float) -> np.ndarray:
    """Softmax of log-likelihoods at ``temperature`` (0 puts all mass on the best, ties shared)."""
    x = np.asarray(logps, dtype=np.float64)
    if x.size == 0:
        return x
    if temperature <= 0:
        best = x == x.max()
        return best / best.sum()
    z = (x - x.max()) / temperature
    e = np.exp(z)
    return e / e.sum()


def parse_move(state, text: str, legal: Sequence[int], move_texts: dict[str, int] | None = None) -> int | None:
    """The legal move named in a model's answer, or None.

    Tries the whole answer, then its first line, then each word in order (a model often says
    "I play 4."); the first that is a legal move wins.
    """
    if move_texts is None:
        move_texts = {state.action_to_string(a).lower(): a for a in legal}
    text = (text or "").strip()
    candidates = [text, text.splitlines()[0] if text else ""] + _TOKEN.findall(text)
    legal_set = set(legal)
    for c in candidates:
        c = c.strip().strip(".,;:!?\"'`*").lower()
        if not c:
            continue
        if c in move_texts:
            return move_texts[c]
        try:
            a = state.string_to_action(c)
        except Exception:  # syntax or legality errors of any game: not a move
            continue
        if a in legal_set:
            return int(a)
    return None


class LLMOracle:
    """Policy, value and move proposals of a language model for one game.

    Args:
        backend: an ``LLMBackend``.
        game: the game (for ``num_actions`` and the prompt files).
        prompts: a ``PromptSet`` (default: the game's files).
        prior_temperature: softmax temperature of move log-likelihoods.
        num_samples: answers drawn per ``propose`` call.
        sample_temperature: sampling temperature of those answers.
        value_max_tokens: tokens of a value answer.
        fallback: a batched evaluator (``evaluate(states) -> (priors, values)``) used for values when
            the model fails, times out or answers garbage, and for priors when scoring fails. Default:
            ``mcts.RolloutEvaluator(num_rollouts=8)``.
        call_timeout: seconds a single model call may take before the fallback answers (None: no limit).
        use_model_values: False skips the value prompt and always uses the fallback's values.
        prior_source: ``"score"`` (move log-likelihoods), ``"sample"`` (the frequency of each legal
            move among ``num_samples`` sampled answers, add-one smoothed: for servers that give no
            log-probabilities, such as Ollama), or ``"auto"`` (``"sample"`` when the backend says it
            cannot score: ``backend.can_score()`` is False).
    """

    def __init__(self, backend, game, *, prompts: PromptSet | None = None, prior_temperature: float = 1.0,
                 num_samples: int = 8, sample_temperature: float = 1.0, value_max_tokens: int = 6,
                 fallback=None, call_timeout: float | None = None, use_model_values: bool = True,
                 prior_source: str = "auto") -> None:
        if prior_source not in ("auto", "score", "sample"):
            raise ValueError(f"prior_source must be auto, score or sample, got {prior_source!r}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        if prior_temperature < 0 or sample_temperature < 0:
            raise ValueError(f"temperatures must be >= 0, got {prior_temperature}, {sample_temperature}")
        self.backend = backend
        self.game = game
        self.num_actions = int(game.num_actions)
        self.prompts = prompts or PromptSet(game)
        self.prior_temperature = prior_temperature
        self.num_samples = num_samples
        self.sample_temperature = sample_temperature
        self.value_max_tokens = value_max_tokens
        if fallback is None:
            from mcts import RolloutEvaluator

            fallback = RolloutEvaluator(num_rollouts=8, seed=0)
        self.fallback = fallback
        self.call_timeout = call_timeout
        self.use_model_values = use_model_values
        self.prior_source = prior_source
        self.stats: Counter[str] = Counter()
        self.cancel: threading.Event | None = None
        self._pool: DaemonPool | None = None
        self._pool_lock = threading.Lock()
        faults = getattr(backend, "faults", None)
        self.faults: FaultLog = faults if isinstance(faults, FaultLog) else FaultLog(repr(backend))

    def _timed_out(self, message: str) -> LLMTimeoutError:
        self.stats["timeouts"] += 1
        usage = getattr(self.backend, "usage", None)
        if usage is not None:
            usage.add(errors=1)
        self.faults.record("call_timeout", message)
        return LLMTimeoutError(message)

    # -- calls with a timeout -----------------------------------------------------------------
    def call(self, fn: Callable, *args, timeout: float | None = None, **kwargs):
        """``fn(*args, **kwargs)`` with at most ``timeout`` seconds (the smaller of it and
        ``call_timeout``), abandoned early when ``self.cancel`` (a ``threading.Event``) is set.

        A call that overruns keeps running in its worker thread, but its answer is dropped.

        Raises:
            LLMTimeoutError: the call took too long or was cancelled.
            LLMError: the backend failed.
        """
        limits = [t for t in (timeout, self.call_timeout) if t is not None]
        timeout = min(limits) if limits else None
        cancel = self.cancel
        if timeout is None and cancel is None:
            return fn(*args, **kwargs)
        if timeout is not None and timeout <= 0:
            raise self._timed_out("no time left for a model call")
        with self._pool_lock:
            if self._pool is None:
                self._pool = DaemonPool(4, "llm-call")
        fut = self._pool.submit(fn, *args, **kwargs)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            slice_s = 0.02 if cancel is not None else None
            if deadline is not None:
                left = deadline - time.monotonic()
                slice_s = left if slice_s is None else min(slice_s, left)
            try:
                return fut.result(timeout=max(slice_s, 0.0) if slice_s is not None else None)
            except cf.TimeoutError as exc:
                if cancel is not None and cancel.is_set():
                    self.stats["cancelled"] += 1
                    raise LLMTimeoutError("model call cancelled by stop()") from exc
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._timed_out(f"model call exceeded {timeout:.3g} s") from exc

    # -- policy ---------------------------------------------------------------------------------
    def policy_prompt(self, state) -> str:
        return self.prompts.render("policy", self.backend, state)

    def value_prompt(self, state) -> str:
        return self.prompts.render("value", self.backend, state)

    def priors(self, states: Sequence, *, timeout: float | None = None) -> np.ndarray:
        """float32 ``[B, num_actions]`` priors from the log-likelihood of each legal move's text.

        On a model error or timeout the fallback's priors are used (counted in ``stats``).
        """
        out = np.zeros((len(states), self.num_actions), dtype=np.float32)
        if not states:
            return out
        legal = [s.legal_actions() for s in states]
        if self._samples_priors():
            return self._sampled_priors(states, legal, timeout)
        requests = [(self.policy_prompt(s), [s.action_to_string(a) for a in la]) for s, la in zip(states, legal)]
        try:
            scores = self.call(self.backend.score_batch, requests, timeout=timeout)
        except BudgetExceededError:
            self.stats["budget_refusals"] += 1
            self.stats["prior_fallbacks"] += len(states)
            return np.asarray(self.fallback.evaluate(list(states))[0], dtype=np.float32)
        except LLMError:
            self.stats["prior_fallbacks"] += len(states)
            return np.asarray(self.fallback.evaluate(list(states))[0], dtype=np.float32)
        for i, (la, lp) in enumerate(zip(legal, scores)):
            out[i, la] = softmax(lp, self.prior_temperature)
        return out

    def _samples_priors(self) -> bool:
        if self.prior_source != "auto":
            return self.prior_source == "sample"
        can_score = getattr(self.backend, "can_score", None)
        if can_score is None:
            return False
        try:
            return not can_score()
        except LLMError:  # the server cannot be asked now: scoring fails and the fallback answers
            return False

    def _sampled_priors(self, states: Sequence, legal: list[list[int]], timeout: float | None) -> np.ndarray:
        out = np.zeros((len(states), self.num_actions), dtype=np.float32)
        prompts = [self.policy_prompt(s) for s in states]
        try:
            samples = self.call(self.backend.complete, prompts, max_tokens=8, temperature=self.sample_temperature,
                                n=self.num_samples, stop=["\n"], timeout=timeout)
        except LLMError as exc:
            if isinstance(exc, BudgetExceededError):
                self.stats["budget_refusals"] += 1
            self.stats["prior_fallbacks"] += len(states)
            return np.asarray(self.fallback.evaluate(list(states))[0], dtype=np.float32)
        for i, (s, la, row) in enumerate(zip(states, legal, samples)):
            texts = {s.action_to_string(a).lower(): a for a in la}
            counts = Counter(a for a in (self._parse_answer(s, t, la, texts) for t in row) if a is not None)
            total = sum(counts.values()) + len(la)
            out[i, la] = [(counts[a] + 1) / total for a in la]
        return out

    def _parse_answer(self, state, text: str, legal: Sequence[int], texts: dict[str, int]) -> int | None:
        """The legal move an answer names; answers that name none are counted and logged."""
        a = parse_move(state, text, legal, texts)
        self.stats["answers"] += 1
        if a is None:
            self.stats["illegal_answers"] += 1
            self.faults.record("illegal_answer", f"{text[:80]!r} names no legal move")
        return a

    def propose(self, states: Sequence, k: int | None = None, *, timeout: float | None = None,
                greedy_first: bool = True) -> list[list[int]]:
        """Moves the model proposes for each state: ``k`` samples mapped onto legal moves.

        Duplicates are removed (most frequent first); answers that are not legal moves are counted in
        ``stats["illegal_answers"]`` and dropped. With ``greedy_first`` one more answer at temperature
        0 leads the list. A state whose call fails gets an empty list.
        """
        k = self.num_samples if k is None else k
        if not states:
            return []
        prompts = [self.policy_prompt(s) for s in states]
        try:
            samples = self.call(self.backend.complete, prompts, max_tokens=8, temperature=self.sample_temperature,
                                n=k, stop=["\n"], timeout=timeout)
            greedy = (self.call(self.backend.complete, prompts, max_tokens=8, temperature=0.0, n=1, stop=["\n"],
                                timeout=timeout) if greedy_first else [[] for _ in states])
        except LLMError as exc:
            if isinstance(exc, BudgetExceededError):
                self.stats["budget_refusals"] += 1
            self.stats["propose_failures"] += len(states)
            return [[] for _ in states]
        result = []
        for s, g, row in zip(states, greedy, samples):
            legal = s.legal_actions()
            texts = {s.action_to_string(a).lower(): a for a in legal}
            counts: Counter[int] = Counter()
            first: list[int] = []
            for i, t in enumerate(list(g) + list(row)):
                a = self._parse_answer(s, t, legal, texts)
                if a is None:
                    continue
                if a not in counts:
                    first.append(a)
                counts[a] += 1 if i >= len(g) else 1000  # the greedy answer leads
            result.append(sorted(first, key=lambda a: -counts[a]))
        return result

    # -- value ----------------------------------------------------------------------------------
    def values(self, states: Sequence, *, timeout: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Values in [-1, 1] for each state's player to move, and which came from the fallback.

        Returns:
            values: float32 ``[B]``.
            is_fallback: bool ``[B]``.
        """
        vals = np.zeros(len(states), dtype=np.float32)
        fb = np.ones(len(states), dtype=bool)
        if not states:
            return vals, fb
        if self.use_model_values:
            try:
                answers = self.call(self.backend.complete, [self.value_prompt(s) for s in states],
                                    max_tokens=self.value_max_tokens, temperature=0.0, n=1, timeout=timeout)
            except LLMError as exc:
                if isinstance(exc, BudgetExceededError):
                    self.stats["budget_refusals"] += 1
                self.stats["value_failures"] += len(states)
                answers = [[""] for _ in states]
            for i, row in enumerate(answers):
                score = parse_score(row[0] if row else "")
                if score is None:
                    self.stats["value_unparsed"] += 1
                    if row and row[0]:
                        self.faults.record("unparsed_value", f"{row[0][:80]!r} has no 1-100 score")
                    continue
                vals[i] = score_to_value(score)
                fb[i] = False
        if fb.any():
            idx = np.flatnonzero(fb)
            self.stats["value_fallbacks"] += len(idx)
            vals[idx] = np.asarray(self.fallback.evaluate([states[int(i)] for i in idx])[1], dtype=np.float32)
        return vals, fb

    def close(self) -> None:
        """Cancels queued calls (a running one ends in its daemon thread) and logs the fault counts."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.faults.summarize()
