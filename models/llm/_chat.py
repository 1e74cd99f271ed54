"""Chat prompt formatting: ChatML (SmolLM2, Qwen and most llama.cpp chat models) and its inverse, and a
model's own Jinja chat template (from a GGUF file's metadata or a server) rendered in a sandbox."""
from __future__ import annotations

import os
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


def gguf_chat_template(path: str | os.PathLike) -> str | None:
    """The model's own chat template (``tokenizer.chat_template`` in a GGUF file's metadata), or None."""
    import gguf

    field = gguf.GGUFReader(str(path)).fields.get("tokenizer.chat_template")
    if field is None or not field.data:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def render_chat_template(template: str, system: str, user: str) -> str:
    """A system and a user message rendered by a Jinja chat template (as transformers and llama.cpp
    render them, in a sandbox), ending where the assistant's answer begins.

    Raises:
        ValueError: the template does not render.
    """
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(f"the chat template refused the messages: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    try:
        return env.from_string(template).render(messages=messages, add_generation_prompt=True,
                                                bos_token="", eos_token="")
    except jinja2.TemplateError as exc:
        raise ValueError(f"the chat template does not render: {exc}") from exc
