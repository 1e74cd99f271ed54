"""The agent oracle (``mcts.AgentOracle``) on a language-model backend: proposals, values with
explanations, a rubric judge and a discriminator for text environments (``games.text``).

Every request is charged to the search's ``AgentBudget`` before it is sent, with an upper bound of
its cost:

- **requests**: over HTTP ``n`` for ``n`` samples (a server that ignores ``n`` is asked ``n`` times),
  times ``1 + retries`` (``HTTPBackend.retries``); in process one call, whatever ``n``;
- **prompt tokens**: counted with the backend's tokenizer when it has one, else the prompt's UTF-8
  bytes (a byte-level BPE token spells at least one byte); over HTTP times ``n`` (a server that
  ignores ``n`` reports the prompt once per sample);
- **completion tokens**: ``(max_tokens + 1) * n`` (the in-process backend counts an end token);
- **money**: those tokens at the ``Prices`` (per million tokens).

After the reply the budget is charged what the backend reports (``usage`` and, over HTTP, the POSTs
sent); an answer from the backend's cache costs nothing. Sampled requests get a fresh cache key per
draw (the temperature is nudged by a part in a million) so repeated proposals are new samples, not
cache hits.

Values come from a prompt (``"Score: N. Reason: ..."``: the score maps to [0, 1], the reason is the
explanation the search carries into the next proposal prompt) or from a learned ``ValueHead`` over the
model's last-token hidden state of the same prompt (``models.llm.value_head``).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from mcts import AgentBudget, BudgetExhausted, Evaluation
from models.llm._backend import LLMError
from models.llm._oracle import parse_score

VALUE_SYSTEM = "You judge how promising a partial solution is. Answer as: Score: N. Reason: one sentence."
JUDGE_SYSTEM = "You are a strict grader. Answer with a score from 1 to 100 only."
DISCRIMINATOR_SYSTEM = "You compare candidate answers and pick the best one. Answer with its number only."

# tokens a proposal may take, and where it ends, per environment
PROPOSAL_TOKENS = {"game24": 20, "connect4": 6, "code_repair": 200, "revision": 120}
PROPOSAL_STOPS = {"game24": ("\n",), "connect4": ("\n",)}
_REASON = re.compile(r"reason\s*:\s*(.*)", re.I | re.S)
_INT = re.compile(r"\d+")


@dataclass(frozen=True)
class Prices:
    """Price of tokens, per million (any currency; ``Limit.money`` is in the same unit)."""

    prompt: float = 0.0
    completion: float = 0.0

    def __post_init__(self) -> None:
        if self.prompt < 0 or self.completion < 0:
            raise ValueError(f"prices must be non-negative, got {self}")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6


def value_prompt(backend: Any, env: Any, state: Any) -> str:
    """The value agent's prompt for ``state`` (the learned value reads the same text)."""
    return backend.format_prompt(VALUE_SYSTEM, env.value_question(state) + "\nAnswer as: Score: N. Reason: ...")


class LLMAgentOracle:
    """``mcts.AgentOracle`` on an ``LLMBackend``.

    Args:
        backend: the model (``TransformersBackend``, ``HTTPBackend``, ``ScriptedBackend``).
        temperature: sampling temperature of proposals.
        value_tokens: tokens of a value answer (score and reason).
        prices: token prices for ``Limit.money`` (free when None).
        value_head: a learned value (``models.llm.ValueHead``) used instead of the value prompt; needs
            a backend with hidden states (``TransformersBackend``).
        proposal_tokens: overrides of ``PROPOSAL_TOKENS`` per environment name.

    Raises:
        ValueError: negative temperature or too few value tokens.
    """

    def __init__(self, backend: Any, *, temperature: float = 0.8, value_tokens: int = 40,
                 prices: Prices | None = None, value_head: Any = None,
                 proposal_tokens: dict[str, int] | None = None) -> None:
        if temperature < 0 or value_tokens < 2:
            raise ValueError(f"bad oracle settings: temperature={temperature}, value_tokens={value_tokens}")
        self.backend = backend
        self.temperature = temperature
        self.value_tokens = value_tokens
        self.prices = prices or Prices()
        self.value_head = value_head
        self.proposal_tokens = {**PROPOSAL_TOKENS, **(proposal_tokens or {})}
        self.stats: Counter[str] = Counter()
        self._draws = 0

    # -- accounting -------------------------------------------------------------------------------
    def prompt_token_bound(self, prompt: str) -> int:
        """An upper bound of the prompt tokens the backend will count for ``prompt``."""
        tok = getattr(self.backend, "tokenizer", None)
        if tok is not None:
            try:
                return len(tok(prompt, add_special_tokens=False)["input_ids"])
            except Exception:  # a tokenizer that cannot count: use the byte bound
                pass
        return max(1, len(prompt.encode("utf-8")))

    def _requests_sent(self) -> int:
        sent = getattr(self.backend, "requests_sent", None)
        return int(sent) if isinstance(sent, int) else self.backend.usage.snapshot().calls

    def _charged(self, budget: AgentBudget, prompt: str, *, max_tokens: int, n: int, fn):
        ct = (max_tokens + 1) * n if max_tokens else 0
        # a server may answer n samples with n requests, and retry each; in process, n samples are one call
        http = hasattr(self.backend, "base_url")  # HTTPBackend: usage.calls counts every POST
        requests = max(1, n) * (1 + int(getattr(self.backend, "retries", 0) or 0)) if http else 1
        # each of those n answered requests reports the prompt's tokens again (failed ones report none)
        pt = self.prompt_token_bound(prompt) * (max(1, n) if http else 1)
        res = budget.reserve(requests=requests, prompt_tokens=pt, completion_tokens=ct,
                             money=self.prices.cost(pt, ct))
        before, sent0 = self.backend.usage.snapshot(), self._requests_sent()
        try:
            return fn()
        finally:
            spent = self.backend.usage.snapshot() - before
            budget.settle(res, requests=self._requests_sent() - sent0, prompt_tokens=spent.prompt_tokens,
                          completion_tokens=spent.completion_tokens,
                          money=self.prices.cost(spent.prompt_tokens, spent.completion_tokens))

    def complete(self, budget: AgentBudget, prompt: str, *, max_tokens: int, n: int = 1, sample: bool = False,
                 stop: Sequence[str] = ()) -> list[str]:
        """``n`` answers to ``prompt``, charged to ``budget`` (raises ``BudgetExhausted`` first when it
        cannot pay; a model failure gives no answers and is counted in ``stats``)."""
        temperature = 0.0
        if sample and self.temperature > 0:
            self._draws += 1
            temperature = self.temperature * (1.0 + 1e-6 * self._draws)  # a fresh cache key per draw
        try:
            return self._charged(budget, prompt, max_tokens=max_tokens, n=n, fn=lambda: self.backend.complete(
                [prompt], max_tokens=max_tokens, temperature=temperature, n=n, stop=list(stop) or None)[0])
        except LLMError:
            self.stats["model_failures"] += 1
            return []

    # -- the oracle -------------------------------------------------------------------------------
    def propose(self, env: Any, state: Any, k: int, feedback: str, budget: AgentBudget) -> list[str]:
        """See ``mcts.AgentOracle.propose``."""
        user = env.describe(state) + (f"\n{feedback}" if feedback else "")
        prompt = self.backend.format_prompt(env.system_prompt, user)
        texts = self.complete(budget, prompt, max_tokens=self.proposal_tokens.get(env.name, 64), n=k, sample=True,
                              stop=PROPOSAL_STOPS.get(env.name, ()))
        self.stats["proposal_requests"] += 1
        return texts

    def evaluate(self, env: Any, states: Sequence[Any], budget: AgentBudget) -> list[Evaluation]:
        """See ``mcts.AgentOracle.evaluate``."""
        if self.value_head is not None:
            return [self._learned(env, s, budget) for s in states]
        return [self._prompted(env, s, budget) for s in states]

    def _prompted(self, env: Any, state: Any, budget: AgentBudget) -> Evaluation:
        texts = self.complete(budget, value_prompt(self.backend, env, state), max_tokens=self.value_tokens)
        text = texts[0] if texts else ""
        score = parse_score(text)
        if score is None:
            self.stats["value_unparsed"] += 1
            return Evaluation(0.5, "", "default")
        m = _REASON.search(text)
        reason = (m.group(1) if m else text).strip().splitlines()[0][:240] if text.strip() else ""
        return Evaluation((score - 1.0) / 99.0, reason, "prompted")

    def _learned(self, env: Any, state: Any, budget: AgentBudget) -> Evaluation:
        prompt = value_prompt(self.backend, env, state)
        value = self._charged(budget, prompt, max_tokens=0, n=1,
                              fn=lambda: self.value_head.value_of_prompts(self.backend, [prompt])[0])
        self.stats["learned_values"] += 1
        return Evaluation(float(value), f"a learned value rates this state {value:.2f}", "learned")

    def judge(self, env: Any, state: Any, budget: AgentBudget) -> float:
        """See ``mcts.AgentOracle.judge``: the rubric score mapped to [0, 1] (0 when unreadable)."""
        question = env.judge_question(state)
        if question is None:
            raise ValueError(f"{env.name} scores its own states; it has no judge question")
        texts = self.complete(budget, self.backend.format_prompt(JUDGE_SYSTEM, question), max_tokens=6)
        score = parse_score(texts[0]) if texts else None
        if score is None:
            self.stats["judge_unparsed"] += 1
            return 0.0
        return (score - 1.0) / 99.0

    def discriminate(self, env: Any, states: Sequence[Any], budget: AgentBudget) -> int:
        """See ``mcts.AgentOracle.discriminate``: the model names a candidate (0 when unreadable)."""
        listing = "\n\n".join(f"Candidate {i + 1}:\n{env.answer(s)}" for i, s in enumerate(states))
        user = f"Task:\n{env.describe(env.initial())}\n\n{listing}\n\nWhich candidate is best? Answer with its number."
        texts = self.complete(budget, self.backend.format_prompt(DISCRIMINATOR_SYSTEM, user), max_tokens=4)
        m = _INT.search(texts[0]) if texts else None
        pick: Optional[int] = int(m.group(0)) - 1 if m else None
        if pick is None or not 0 <= pick < len(states):
            self.stats["discriminator_unparsed"] += 1
            return 0
        return pick


__all__ = ["BudgetExhausted", "LLMAgentOracle", "Prices", "value_prompt"]
