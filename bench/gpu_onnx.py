"""GPU benchmark of the network evaluator: CUDA provider vs CPU provider on one model.

Standalone (no pytest): ``python bench/gpu_onnx.py [--budget SECONDS] [--out FILE]``.

1. prints ``onnxruntime.get_available_providers()``, torch's version and the GPU;
2. exports a Connect Four sized network (ResNet 6 blocks x 64 channels, HL-Gauss 51 bins) and a chess
   sized one (10 x 128 over [19, 8, 8], 4672 actions) with ``models.export``;
3. times ``session.run`` on the CUDA provider (if onnxruntime offers it) and on the CPU provider over
   a batch sweep 1, 4, 16, 64, 256, 1024; when the CUDA provider is missing (an image with the CPU
   onnxruntime only) it times the same network in torch on CUDA instead (fp32, and fp16 autocast);
4. runs MCTS on Connect Four at batch 64 (if ``mcts.MCTS`` and the games build) with the ONNX
   evaluator on the best provider, and with a torch-CUDA evaluator when CUDA is there, and reports the
   share of the search's wall time spent inside the network call.

Writes everything as JSON to ``$OUT/gpu_onnx.json`` when ``$OUT`` is set (or to ``--out``). Built to
finish within about 3 minutes: each timing stops after a time slice, and later sections are skipped
once the budget is spent (the JSON says which).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCHES = [1, 4, 16, 64, 256, 1024]
NETS = {
    "connect4_6x64": ({"name": "connect4", "params": {}, "observation_shape": [3, 6, 7], "num_actions": 7}, 6, 64),
    "chess_10x128": ({"name": "chess", "params": {}, "observation_shape": [19, 8, 8], "num_actions": 4672}, 10, 128),
}
START = time.perf_counter()


def elapsed() -> float:
    return time.perf_counter() - START


def log(msg: str) -> None:
    print(f"[{elapsed():6.1f}s] {msg}", flush=True)


def time_call(fn: Callable[[], Any], *, slice_s: float, max_reps: int = 200, sync: Callable[[], None] = lambda: None) -> dict:
    """Median seconds of ``fn`` over up to ``max_reps`` calls within ``slice_s`` (after a warm-up;
    at least 2 timed calls)."""
    fn()
    sync()
    times: list[float] = []
    end = time.perf_counter() + slice_s
    while len(times) < max_reps and (len(times) < 2 or time.perf_counter() < end):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return {"median_s": float(np.median(times)), "min_s": float(np.min(times)), "reps": len(times)}


def too_slow(rows: list[dict], b: int, deadline: float) -> bool:
    """Whether timing batch ``b`` (a warm-up and two calls, extrapolated from the last batch
    timed) would run past ``deadline``."""
    done = [r for r in rows if "median_s" in r]
    guess = 3 * done[-1]["median_s"] * b / done[-1]["batch"] if done else 0.0
    return time.perf_counter() + guess > deadline


def sweep_onnx(path: Path, shape: list[int], provider: str, budget_end: float, slice_s: float) -> list[dict]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=[provider])
    rows: list[dict] = []
    rng = np.random.default_rng(0)
    for b in BATCHES:
        if too_slow(rows, b, budget_end):
            rows.append({"batch": b, "skipped": "time budget"})
            log(f"  onnx {provider:<24} batch {b:>4}: skipped (time budget)")
            continue
        x = rng.standard_normal((b, *shape)).astype(np.float32)
        r = time_call(lambda: session.run(["policy_logits", "value"], {"observation": x}), slice_s=slice_s)
        r.update(batch=b, evals_per_s=b / r["median_s"], providers=session.get_providers())
        rows.append(r)
        log(f"  onnx {provider:<24} batch {b:>4}: {r['median_s'] * 1e3:9.3f} ms  {r['evals_per_s']:12.0f} evals/s")
    return rows


def sweep_torch(net, shape: list[int], budget_end: float, slice_s: float, half: bool) -> list[dict]:
    import torch

    rows: list[dict] = []
    dev = torch.device("cuda")
    model = net.to(dev).eval()
    sync = torch.cuda.synchronize
    for b in BATCHES:
        if too_slow(rows, b, budget_end):
            rows.append({"batch": b, "skipped": "time budget"})
            continue
        x_host = np.random.default_rng(0).standard_normal((b, *shape)).astype(np.float32)

        def run():  # host array in, host arrays out: what an evaluator pays
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=half):
                p, v = model(torch.from_numpy(x_host).to(dev, non_blocking=True))
                return p.float().cpu().numpy(), model.value(v.float()).cpu().numpy()

        r = time_call(run, slice_s=slice_s, sync=sync)
        r.update(batch=b, evals_per_s=b / r["median_s"])
        rows.append(r)
        log(f"  torch cuda {'fp16' if half else 'fp32'}            batch {b:>4}: {r['median_s'] * 1e3:9.3f} ms  "
            f"{r['evals_per_s']:12.0f} evals/s")
    return rows


class TorchCudaEvaluator:
    """The evaluator protocol over a torch network on CUDA (for when onnxruntime has no CUDA provider)."""

    def __init__(self, net, num_actions: int, shape: list[int]) -> None:
        import torch

        self.torch = torch
        self.net = net.cuda().eval()
        self.num_actions = num_actions
        self.buf = np.zeros((1024, *shape), np.float32)
        self.net_seconds = 0.0
        self.evaluations = 0

    def evaluate(self, states):
        torch = self.torch
        n = len(states)
        masks = np.zeros((n, self.num_actions), bool)
        for i, s in enumerate(states):
            self.buf[i] = s.observation()
            masks[i] = s.legal_actions_mask()
        t = time.perf_counter()
        with torch.no_grad():
            p, v = self.net(torch.from_numpy(self.buf[:n]).cuda())
            logits = p.cpu().numpy()
            values = self.net.value(v).cpu().numpy().astype(np.float32)
        self.net_seconds += time.perf_counter() - t
        self.evaluations += n
        z = np.where(masks, logits, -np.inf)
        z = np.exp(z - z.max(1, keepdims=True))
        return (z / z.sum(1, keepdims=True)).astype(np.float32), values


def ensure_built(build: bool) -> str | None:
    """Imports the C games and MCTS, building them in place first if needed and ``build`` allows;
    None, or why the search cannot run."""
    try:
        import games.connect4  # noqa: F401
        import mcts

        if hasattr(mcts, "MCTS"):
            return None
        if not build:
            return "mcts.MCTS does not exist in this tree"
    except ImportError as exc:
        if not build:
            return f"the games / mcts extensions do not import ({exc}); run with --build"
    log("building the Cython extensions in place (games, mcts) ...")
    env = dict(os.environ, PLYTREE_EXT="games._cgame,games.connect4,mcts._puct,mcts._c4solver")
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=150)
    if proc.returncode != 0:
        return f"build failed: {proc.stderr[-800:]}"
    for name in [m for m in list(sys.modules) if m.split(".")[0] in ("games", "mcts")]:
        del sys.modules[name]
    try:
        import games.connect4  # noqa: F401,F811
        import mcts  # noqa: F811

        return None if hasattr(mcts, "MCTS") else "mcts.MCTS does not exist in this tree"
    except ImportError as exc:
        return f"import failed after build: {exc}"


def search_share(evaluator, seconds_attr: str, simulations: int) -> dict:
    import games
    import mcts

    game = games.load("connect4")
    search = mcts.MCTS(game, evaluator, batch_size=64, seed=0)
    search.run(game.new_initial_state(), mcts.Limit(simulations=256))  # warm-up
    search.reset()
    if hasattr(evaluator, "clear_cache"):
        evaluator.clear_cache()
        evaluator.reset_stats()
    before = getattr(evaluator, seconds_attr)
    evals_before = evaluator.evaluations
    t = time.perf_counter()
    search.run(game.new_initial_state(), mcts.Limit(simulations=simulations))
    wall = time.perf_counter() - t
    inside = getattr(evaluator, seconds_attr) - before
    return {"simulations": simulations, "batch_size": 64, "wall_s": wall, "inside_network_s": inside,
            "share": inside / wall, "evaluations": evaluator.evaluations - evals_before,
            "simulations_per_s": simulations / wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=200.0, help="seconds for the whole run (default 200)")
    parser.add_argument("--build", action="store_true",
                        help="build the Cython games and MCTS in place first if they do not import")
    parser.add_argument("--out", default=None, help="JSON file (default $OUT/gpu_onnx.json when $OUT is set)")
    args = parser.parse_args()
    budget_end = time.perf_counter() + args.budget
    sweep_end = budget_end - 45  # kept for the search-share section
    out_path = Path(args.out) if args.out else (Path(os.environ["OUT"]) / "gpu_onnx.json" if os.environ.get("OUT") else None)

    import onnxruntime as ort

    report: dict[str, Any] = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "onnxruntime": ort.__version__, "available_providers": ort.get_available_providers(),
        "cpu_count": os.cpu_count(), "nets": {}, "notes": [],
    }
    print("onnxruntime", ort.__version__, "providers:", ort.get_available_providers(), flush=True)
    import torch

    import models
    from models.nets import ResNet

    cuda = torch.cuda.is_available()
    report.update(torch=torch.__version__, torch_cuda=cuda,
                  gpu=torch.cuda.get_device_name(0) if cuda else None)
    log(f"torch {torch.__version__}, cuda available: {cuda}, gpu: {report['gpu']}")
    has_cuda_ep = "CUDAExecutionProvider" in ort.get_available_providers()
    if not has_cuda_ep:
        report["notes"].append("onnxruntime has no CUDAExecutionProvider here: GPU numbers are torch CUDA")
    tmp = Path(tempfile.mkdtemp(prefix="plytree_gpu_"))
    nets = {}
    for name, (spec, blocks, channels) in NETS.items():
        torch.manual_seed(0)
        net = ResNet(spec, blocks=blocks, channels=channels).eval()
        path = models.export(net, None, tmp / f"{name}.onnx")
        nets[name] = (net, path, spec)
        report["nets"][name] = {"blocks": blocks, "channels": channels, "input": spec["observation_shape"],
                                "num_actions": spec["num_actions"], "parameters": sum(p.numel() for p in net.parameters())}
    for name, (net, path, spec) in nets.items():
        shape = spec["observation_shape"]
        entry = report["nets"][name]
        per_slice = max(0.2, min(1.0, (sweep_end - time.perf_counter()) / (len(nets) * len(BATCHES) * 4)))
        log(f"{name}: {entry['parameters']} parameters, slice {per_slice:.2f}s per timing")
        if has_cuda_ep:
            entry["onnx_cuda"] = sweep_onnx(path, shape, "CUDAExecutionProvider", sweep_end, per_slice)
        if cuda:
            entry["torch_cuda_fp32"] = sweep_torch(net, shape, sweep_end, per_slice, half=False)
            entry["torch_cuda_fp16"] = sweep_torch(net, shape, sweep_end, per_slice, half=True)
            net.cpu()
        # the CPU last: it is the slow one, and what the budget cuts first
        entry["onnx_cpu"] = sweep_onnx(path, shape, "CPUExecutionProvider", sweep_end, per_slice)
    # the share of an MCTS search's wall time spent inside the network
    why = ensure_built(args.build)
    shares: dict[str, Any] = {}
    if why:
        shares["skipped"] = why
        log(f"search share skipped: {why}")
    else:
        net, path, spec = nets["connect4_6x64"]
        best = ["CUDAExecutionProvider", "CPUExecutionProvider"] if has_cuda_ep else ["CPUExecutionProvider"]
        for label, providers in (("onnx_best", best), ("onnx_cpu", ["CPUExecutionProvider"])):
            if label == "onnx_best" and not has_cuda_ep:
                continue
            if time.perf_counter() > budget_end - 20:
                shares[label] = {"skipped": "time budget"}
                continue
            ev = models.OnnxEvaluator(path, providers=providers, batch_size=256)
            shares[label] = search_share(ev, "onnx_seconds", 4096)
            shares[label]["providers"] = ev.providers
            log(f"MCTS share inside onnxruntime ({label}): {shares[label]['share']:.3f}, "
                f"{shares[label]['simulations_per_s']:.0f} simulations/s")
        if cuda and time.perf_counter() < budget_end - 10:
            tev = TorchCudaEvaluator(net, spec["num_actions"], spec["observation_shape"])
            shares["torch_cuda"] = search_share(tev, "net_seconds", 4096)
            log(f"MCTS share inside torch cuda: {shares['torch_cuda']['share']:.3f}, "
                f"{shares['torch_cuda']['simulations_per_s']:.0f} simulations/s")
    report["mcts_share"] = shares
    report["total_s"] = elapsed()
    text = json.dumps(report, indent=1)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(text)
        log(f"wrote {out_path}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
