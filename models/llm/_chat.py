"""ChatML prompt formatting (SmolLM2, Qwen and most llama.cpp chat models) and its inverse."""
from __future__ import annotations

import re

_TURN = re.compile(r"<\|im_start\|>(system|user|assistant)\n(.*?)(?:<\|im_end\|>\n?|$)", re.DOTALL)


def chatml(system: str, user: str) -> str:
    """A ChatML prompt with ``system`` and ``user`` turns, ending where the assistant's answer begins."""
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    return f"{head}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def chatml_to_messages(prompt: str) -> list[dict[str, str]]:
    """The ``messages`` of a ChatML prompt (a trailing empty assistant turn is dropped); a prompt that
    is not ChatML becomes one user message."""
    msgs = [{"role": r, "content": c} for r, c in _TURN.findall(prompt)]
    if not msgs:
        return [{"role": "user", "content": prompt}]
    if msgs[-1]["role"] == "assistant" and not msgs[-1]["content"]:
        msgs.pop()
    return msgs
