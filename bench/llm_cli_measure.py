"""Seconds and requests per LLM move through ``plytree play`` against the fake servers of the tests.

Usage: ``python -m bench.llm_cli_measure llamacpp vllm`` (styles of ``tests/test_llm_budget.py``'s
``_FakeLLMServer``). Each row runs ``python -m engine.cli play connect4 <spec> random --quiet --seed 1``
and reports the wall time per LLM move (start-up included) and the server's request count per move
(less the capability probe). The fake servers answer at once, so the time is the client's own.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

SPECS = {
    "greedy": "kind=llm,mode=greedy,url={url},model=m",
    "mcts (16 sims, llm_calls=8)": "kind=llm,mode=mcts,url={url},model=m,simulations=16,llm_calls=8",
    "minimax (depth 2, 3 cand., llm_calls=12)": "kind=llm,mode=minimax,url={url},model=m,llm_calls=12",
}


def main(styles: list[str]) -> None:
    from test_llm import _serving
    from test_llm_budget import _FakeLLMServer

    for style in styles or ["llamacpp", "vllm"]:
        _FakeLLMServer.style = style
        for srv in _serving(_FakeLLMServer):
            url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
            for label, spec in SPECS.items():
                _FakeLLMServer.posts = []
                t0 = time.perf_counter()
                out = subprocess.run([sys.executable, "-m", "engine.cli", "play", "connect4", spec.format(url=url),
                                      "random", "--quiet", "--seed", "1"], capture_output=True, text=True, cwd=REPO)
                wall = time.perf_counter() - t0
                m = re.search(r"after (\d+) moves", out.stdout)
                if m is None:
                    raise SystemExit(f"{style} {label}: no result\n{out.stdout}\n{out.stderr}")
                llm_moves = (int(m.group(1)) + 1) // 2
                probes = sum(1 for _, body in _FakeLLMServer.posts if "1 2 3" in str(body.get("prompt", "")))
                requests = len(_FakeLLMServer.posts) - probes
                print(f"{style:9s} | {label:42s} | {llm_moves:2d} moves | {wall / llm_moves:6.2f} s/move | "
                      f"{requests / llm_moves:5.1f} requests/move | probe {probes}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
