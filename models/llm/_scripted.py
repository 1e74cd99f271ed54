"""A fake language model that answers from tables: deterministic unit tests of everything above it."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Union

from models.llm._backend import BaseBackend, LLMError, count_tokens_estimate

ScoreTable = Union[Mapping[str, float], Callable[[str, str], float]]
CompletionTable = Union[Mapping[str, str | Sequence[str]], Callable[[str], str | Sequence[str]]]


class ScriptedBackend(BaseBackend):
    """Answers ``score`` and ``complete`` from tables or functions.

    Args:
        scores: ``continuation -> log-likelihood`` (the same for every prompt), or a function
            ``(prompt, continuation) -> log-likelihood``. Unlisted continuations get ``default_score``.
        completions: ``key -> answer(s)``, where the first key found as a substring of the prompt
            wins (insertion order), or a function ``prompt -> answer(s)``. A list of answers is handed
            out in turn to the ``n`` samples (cycling); no match gives ``default_completion``.
        default_score: log-likelihood of unlisted continuations.
        default_completion: answer when no key matches.
        delay: seconds each uncached call sleeps (to test timeouts).
        fail: when true every call raises ``LLMError`` (to test fallbacks).
        model: the name in cache keys.
        cache_size, prices: see ``BaseBackend``.

    Each prompt is one request; its tokens are estimated (about four characters a token).
    """

    def __init__(self, *, scores: ScoreTable | None = None, completions: CompletionTable | None = None,
                 default_score: float = -20.0, default_completion: str = "", delay: float = 0.0,
                 fail: bool = False, model: str = "scripted", cache_size: int = 100_000, prices=None) -> None:
        super().__init__(model, cache_size=cache_size, prices=prices)
        self.scores = scores if scores is not None else {}
        self.completions = completions if completions is not None else {}
        self.default_score = default_score
        self.default_completion = default_completion
        self.delay = delay
        self.fail = fail
        self.prompts_seen: list[str] = []

    def _before_call(self, prompts: Sequence[str]) -> None:
        self.prompts_seen.extend(prompts)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise LLMError("scripted failure")

    def _score_uncached(self, requests, res):
        self._before_call([p for p, _ in requests])
        out = []
        for prompt, conts in requests:
            self._charge(res, count_tokens_estimate(prompt) + sum(count_tokens_estimate(c) for c in conts), 0)
            if callable(self.scores):
                out.append([float(self.scores(prompt, c)) for c in conts])
            else:
                out.append([float(self.scores.get(c, self.default_score)) for c in conts])
        return out

    def _answers(self, prompt: str) -> Sequence[str]:
        if callable(self.completions):
            ans = self.completions(prompt)
        else:
            ans = next((v for k, v in self.completions.items() if k in prompt), self.default_completion)
        return [ans] if isinstance(ans, str) else list(ans) or [self.default_completion]

    def _complete_uncached(self, prompts, max_tokens, temperature, n, stop, res):
        self._before_call(prompts)
        texts = []
        for p in prompts:
            answers = self._answers(p)
            row = [answers[i % len(answers)] for i in range(n)]
            texts.append(row)
            self._charge(res, count_tokens_estimate(p), sum(min(max_tokens, count_tokens_estimate(t)) for t in row))
        return texts
