"""``plytree agent``: search a text-agent task (Game of 24, code repair, text revision, Connect Four)
with a language model, showing progress, and report the answer, reward, spending and the tree."""
from __future__ import annotations

import argparse
import json
import sys

HELP = "solve a text-agent task (game24, code_repair, revision, connect4) with a language model and search"

_BUDGET_KEYS = {"llm_calls": int, "calls": int, "tokens": int, "money": float, "time": float, "simulations": int,
                "iterations": int, "nodes": int}


def parse_budget(text: str):
    """``"llm_calls=20,tokens=5000,money=0.01,time=60"`` (or a bare number of calls) as a ``Limit``.

    Raises:
        ValueError: an unknown key or a bad number.
    """
    from mcts import Limit

    text = text.strip()
    if text.isdigit():
        return Limit(llm_calls=int(text))
    fields: dict = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _BUDGET_KEYS:
            raise ValueError(f"bad budget item {part!r}: use {', '.join(_BUDGET_KEYS)} as key=value")
        try:
            number = _BUDGET_KEYS[key](value)
        except ValueError as exc:
            raise ValueError(f"bad number in budget item {part!r}") from exc
        fields[{"calls": "llm_calls", "iterations": "simulations"}.get(key, key)] = number
    return Limit(**fields)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("env", help="environment: game24, code_repair, revision, connect4 (or 'list')")
    p.add_argument("task", nargs="?", default=None,
                   help="task id or index of the task file, Game of 24 numbers ('4 7 8 8'), Connect Four moves, "
                        "or 'all' (every task of the file, one line each and the solve rate); default: the first")
    p.add_argument("--first", type=int, default=None, help="with 'all': only the first N tasks")
    p.add_argument("--tasks", default=None, help="a task file (default: the shipped games/text/data/ENV.json)")
    p.add_argument("--backend", default="transformers", choices=("transformers", "http"),
                   help="transformers: the model in process (default); http: an OpenAI-compatible server")
    p.add_argument("--model", default=None, help="transformers: model directory or .gguf (default: embedded SmolLM2-135M); http: model name")
    p.add_argument("--url", default=None, help="http: base URL up to /v1 (default $PLYTREE_LLM_BASE_URL)")
    p.add_argument("--device", default="cpu", help="torch device for the in-process model")
    p.add_argument("--budget", default="llm_calls=20",
                   help="llm_calls=N,tokens=N,money=X,time=S,simulations=N (default llm_calls=20)")
    p.add_argument("--price-prompt", type=float, default=0.0, help="price per million prompt tokens (for money)")
    p.add_argument("--price-completion", type=float, default=0.0, help="price per million completion tokens")
    p.add_argument("--mode", default="search", choices=("search", "sample"),
                   help="search: MCTS over proposals (default); sample: the model alone, episodes until solved")
    p.add_argument("--value", default="prompted",
                   help="value agent: prompted (default), learned[:FILE] (the HL-Gauss head), none")
    p.add_argument("--samples", type=int, default=2, help="proposals per expansion (default 2)")
    p.add_argument("--max-rounds", type=int, default=3,
                   help="proposal rounds without a new valid action before a node is closed (default 3)")
    p.add_argument("--widening", type=float, default=1.0, help="progressive widening coefficient (default 1)")
    p.add_argument("--final", default="best", choices=("best", "majority", "discriminator"), help="final selection")
    p.add_argument("--temperature", type=float, default=0.8, help="proposal sampling temperature (default 0.8)")
    p.add_argument("--enumerate", action="store_true", help="game24: list every step as the actions")
    p.add_argument("--trace", default=None, help="write the tree: FILE.json (JSON) or any other name (linear text)")
    p.add_argument("--json", action="store_true", help="print the report and the tree as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress display")


def _backend(args: argparse.Namespace):
    from models.llm import HTTPBackend, TransformersBackend

    if args.backend == "http":
        return HTTPBackend(args.url, args.model)
    return TransformersBackend(args.model, device=args.device)


def run(args: argparse.Namespace) -> int:
    from games.text import environment_names, load_tasks, make_env
    from mcts.agent_search import AgentSearch, sample_episodes
    from mcts.trace import agent_trace, save_trace
    from models.llm import LLMAgentOracle, Prices

    if args.env == "list":
        for name in environment_names():
            print(f"{name}: {', '.join(str(t['id']) for t in load_tasks(name))}")
        return 0
    limit = parse_budget(args.budget)
    options = {"enumerate": True} if args.enumerate and args.env == "game24" else {}
    if args.task == "all":
        tasks = load_tasks(args.env, args.tasks)[:args.first]
        envs = [make_env(args.env, str(t["id"]), path=args.tasks, **options) for t in tasks]
    else:
        envs = [make_env(args.env, args.task, path=args.tasks, **options)]
    value_head = None
    if args.value.startswith("learned"):
        from models.llm.value_head import DEFAULT_PATH, ValueHead

        value_head = ValueHead.load(args.value.partition(":")[2] or DEFAULT_PATH)
    elif args.value not in ("prompted", "none"):
        raise ValueError(f"--value must be prompted, learned[:FILE] or none, got {args.value!r}")
    backend = _backend(args)
    oracle = LLMAgentOracle(backend, temperature=args.temperature, value_head=value_head,
                            prices=Prices(args.price_prompt, args.price_completion))

    def progress(info: dict) -> None:
        if args.quiet:
            return
        s = info["spent"]
        best = "-" if info["best"] is None else f"{info['best']:.2f}"
        print(f"\riteration {info['iteration']:4d}  nodes {info['nodes']:4d}  best reward {best:>4}  "
              f"calls {s['llm_calls']}  tokens {s['tokens']}  money {s['money']:.6f}  {s['seconds']:.1f} s",
              end="", file=sys.stderr, flush=True)

    search = AgentSearch(oracle, samples=args.samples, widening=args.widening, final=args.final,
                         max_rounds=args.max_rounds,
                         use_values=args.value != "none")

    def solve(env):
        if args.mode == "sample":
            return sample_episodes(env, oracle, limit)
        result = search.run(env, limit, progress=progress)
        if not args.quiet:
            print(file=sys.stderr)
        return result

    if len(envs) > 1:
        return _run_all(args, envs, solve)
    env = envs[0]
    result = solve(env)
    trace = agent_trace(result)
    if args.trace:
        save_trace(trace, args.trace)
    if args.json:
        print(json.dumps({**result.report(), "tree": trace["nodes"]}, indent=1))
        return 0
    spent = result.spent
    print(f"task: {env.name} {env.task_id}")
    print(f"answer:\n{result.answer}")
    reward = "-" if result.reward is None else f"{result.reward:.3f}"
    print(f"reward: {reward}  solved: {'yes' if result.solved else 'no'}  (selection: {result.selection})")
    print(f"spent: {spent['llm_calls']} calls, {spent['tokens']} tokens ({spent['prompt_tokens']} prompt + "
          f"{spent['completion_tokens']} completion), money {spent['money']:.6f}, {result.seconds:.1f} s")
    print(f"search: {result.iterations} iterations, {result.nodes} nodes, stopped by {result.stop_reason}")
    if result.stats:
        print("stats: " + ", ".join(f"{k} {v}" for k, v in sorted(result.stats.items())))
    print(f"tree: {args.trace}" if args.trace else "tree (JSON):\n" + json.dumps(trace["nodes"]))
    return 0


def _run_all(args: argparse.Namespace, envs: list, solve) -> int:
    """Every task in turn: one JSON line each, then the solve rate and the totals."""
    solved, totals = 0, {"llm_calls": 0, "tokens": 0, "money": 0.0, "seconds": 0.0}
    for env in envs:
        result = solve(env)
        solved += result.solved
        for k in totals:
            totals[k] += result.spent[k] if k != "seconds" else result.seconds
        print(json.dumps({"task": env.task_id, "solved": result.solved, "reward": result.reward,
                          "answer": result.answer[:200], "stop_reason": result.stop_reason, **{
                              k: result.spent[k] for k in ("llm_calls", "tokens", "money")},
                          "seconds": round(result.seconds, 1), "stats": result.stats}), flush=True)
    print(f"solved {solved}/{len(envs)}  ({args.env}, mode {args.mode}, value {args.value}, budget {args.budget}); "
          f"spent {totals['llm_calls']} calls, {totals['tokens']} tokens, money {totals['money']:.6f}, "
          f"{totals['seconds']:.0f} s")
    return 0
