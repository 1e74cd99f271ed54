"""Neural evaluators: HL-Gauss / WDL heads, torch networks, ONNX export and the onnxruntime evaluator."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import games
import models
from models import ModelFileError, ModelMismatchError

torch = pytest.importorskip("torch")  # the training extra; installed in the dev environment
from models import losses  # noqa: E402  (needs torch)
from models.nets import ResNet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# every game the engine ships, with the parameters used here (hex 5 keeps the nets small)
GAMES = [("tictactoe", {}), ("connect4", {}), ("hex", {"board_size": 5}), ("chess", {})]
GAME_IDS = [name for name, _ in GAMES]
SMALL = dict(blocks=1, channels=16)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny nets run faster on one thread, and the test machine is shared (2 cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_states(game, count: int, seed: int = 0) -> list:
    """``count`` non-terminal states from seeded random playouts (initial state included)."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        s = game.new_initial_state()
        for _ in range(rng.randrange(0, 40)):
            if s.is_terminal():
                break
            out.append(s.clone())
            s.apply_action(rng.choice(s.legal_actions()))
        if not s.is_terminal():
            out.append(s)
    return out[:count]


@pytest.fixture(scope="module", params=GAMES, ids=GAME_IDS)
def exported(request, tmp_path_factory):
    """(game, torch net in eval mode, path of its ONNX export) for each game."""
    name, params = request.param
    game = games.load(name, **params)
    torch.manual_seed(0)
    net = ResNet(game, **SMALL)
    # non-trivial batch-norm statistics, so that parity checks more than the identity
    net.train()
    with torch.no_grad():
        net(torch.randn(16, *game.observation_shape))
    net.eval()
    path = models.export(net, game, tmp_path_factory.mktemp(name) / f"{name}.onnx")
    return game, net, path


# -- import hygiene -----------------------------------------------------------------------------

def test_import_models_does_not_import_torch_or_onnxruntime():
    code = ("import sys, models; from models import *; "
            "assert 'torch' not in sys.modules, 'torch'; assert 'onnxruntime' not in sys.modules, 'ort'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# -- HL-Gauss and WDL ---------------------------------------------------------------------------

@pytest.mark.parametrize("num_bins", [21, 51, 101])
def test_hl_gauss_targets_sum_to_one_and_reproduce_the_value(num_bins):
    values = np.linspace(-1.0, 1.0, 41)
    t = models.hl_gauss_targets(values, num_bins)
    assert t.shape == (41, num_bins) and (t >= 0).all()
    np.testing.assert_allclose(t.sum(-1), 1.0, atol=1e-12)
    means = models.histogram_mean(t)
    inner = np.abs(values) <= 1.0 - 3 * 0.75 * 2 / num_bins  # 3 sigma from the ends: no truncation
    np.testing.assert_allclose(means[inner], values[inner], atol=2e-3)
    # at the ends the Gaussian is cut at [-1, 1], which pulls the mean inward by less than one sigma
    sigma = 0.75 * 2 / num_bins
    assert np.all(np.abs(means - values) < sigma)
    assert np.all(np.diff(means) > 0)  # still strictly monotone
    # the torch twin agrees with the numpy one
    tt = losses.hl_gauss_targets(torch.tensor(values), num_bins).numpy()
    np.testing.assert_allclose(tt, t, atol=1e-9)
    # sigma is 0.75 bin widths: the spread of the target histogram in the middle
    mid = t[20]
    centers = models.bin_centers(num_bins)
    std = np.sqrt((mid * centers ** 2).sum() - (mid * centers).sum() ** 2)
    assert abs(std - np.sqrt(sigma ** 2 + (2 / num_bins) ** 2 / 12)) < 0.15 * sigma


def _toy_fit(value_head: str) -> tuple[float, float, float, float]:
    """Fits y = sin(3x) with a value head; returns (first loss, last loss, first MAE, last MAE)."""
    torch.manual_seed(1)
    x = torch.linspace(-1, 1, 256).unsqueeze(1)
    y = torch.sin(3 * x[:, 0]) * 0.95
    if value_head == "wdl":
        y = torch.sign(y) * (y.abs() > 0.3)  # game outcomes: win, draw, loss
    k = 51 if value_head == "hlgauss" else 3
    model = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.Tanh(), torch.nn.Linear(64, k))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = losses.hl_gauss_loss if value_head == "hlgauss" else losses.wdl_loss
    value_fn = losses.histogram_mean if value_head == "hlgauss" else losses.wdl_value
    first = last = 0.0
    maes = []
    for step in range(300):
        logits = model(x)
        loss = loss_fn(logits, y)
        if step == 0:
            first = float(loss.detach())
            maes.append(float((value_fn(logits.detach()) - y).abs().mean()))
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = float(loss.detach())
    with torch.no_grad():
        maes.append(float((value_fn(model(x)) - y).abs().mean()))
    return first, last, maes[0], maes[1]


@pytest.mark.parametrize("value_head", ["hlgauss", "wdl"])
def test_value_head_loss_decreases_on_a_toy_fit(value_head):
    first, last, mae0, mae1 = _toy_fit(value_head)
    assert last < 0.6 * first
    assert mae1 < 0.1 < mae0


def test_wdl_targets_and_policy_loss_masking():
    v = torch.tensor([1.0, 0.0, -1.0, 0.5, -0.25])
    t = losses.wdl_targets(v)
    torch.testing.assert_close(t.sum(-1), torch.ones(5))
    torch.testing.assert_close(t[:, 0] - t[:, 2], v)
    assert t.min() >= 0
    classes = torch.tensor([0, 1, 2])
    logits = torch.randn(3, 3)
    torch.testing.assert_close(losses.wdl_loss(logits, classes), losses.wdl_loss(logits, v[:3]))
    # illegal logits do not change the masked policy loss
    logits = torch.randn(4, 9)
    mask = torch.rand(4, 9) > 0.4
    mask[:, 0] = True
    target = torch.softmax(torch.randn(4, 9).masked_fill(~mask, -1e9), -1)
    bumped = logits + 50.0 * (~mask)
    torch.testing.assert_close(losses.policy_loss(logits, target, mask), losses.policy_loss(bumped, target, mask))


# -- networks, export and parity ----------------------------------------------------------------

def test_network_shapes_and_arguments():
    g = games.load("connect4")
    net = ResNet(g, blocks=2, channels=8, value_head="wdl")
    p, v = net(torch.zeros(3, 3, 6, 7))
    assert p.shape == (3, 7) and v.shape == (3, 3) and net.value(v).shape == (3,)
    net = ResNet({"name": "tictactoe", "observation_shape": [3, 3, 3], "num_actions": 9}, blocks=0, channels=4)
    assert net(torch.zeros(1, 3, 3, 3))[1].shape == (1, 51)
    with pytest.raises(ValueError, match="value_head"):
        ResNet(g, value_head="scalar")
    with pytest.raises(ValueError, match=r"\[C, H, W\]"):
        ResNet({"name": "x", "observation_shape": [10], "num_actions": 3})


def test_export_parity_with_torch(exported):
    game, net, path = exported
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    info = models.read_metadata(path)
    assert (info.game, info.observation_shape, info.num_actions) == (game.name, game.observation_shape, game.num_actions)
    assert info.game_params == game.params and info.value_head == "hlgauss" and info.num_bins == 51
    rng = np.random.default_rng(0)
    real = np.stack([s.observation() for s in random_states(game, 9)])
    for batch in (rng.standard_normal((17, *game.observation_shape)).astype(np.float32), real, real[:1]):
        policy, value, value_logits = session.run(["policy_logits", "value", "value_logits"], {"observation": batch})
        with torch.no_grad():
            tp, tv = net(torch.from_numpy(batch))
            tval = net.value(tv)
        assert policy.shape == (len(batch), game.num_actions) and value.shape == (len(batch),)
        assert np.abs(policy - tp.numpy()).max() < 1e-4
        assert np.abs(value_logits - tv.numpy()).max() < 1e-4
        assert np.abs(value - tval.numpy()).max() < 1e-4
        # the value output is the histogram mean of the logits output
        np.testing.assert_allclose(value, models.histogram_mean(_softmax(value_logits)), atol=1e-5)


def test_export_wdl_head_parity(tmp_path):
    game = games.load("connect4")
    torch.manual_seed(3)
    net = ResNet(game, blocks=1, channels=8, value_head="wdl").eval()
    path = models.export(net, game, tmp_path / "wdl.onnx")
    ev = models.OnnxEvaluator(path, game=game, providers=["CPUExecutionProvider"])
    assert ev.info.value_head == "wdl" and ev.info.num_bins == 3
    states = random_states(game, 12)
    _, values = ev.evaluate(states)
    with torch.no_grad():
        _, vl = net(torch.from_numpy(np.stack([s.observation() for s in states])))
        p = torch.softmax(vl, -1)
    assert np.abs(values - (p[:, 0] - p[:, 2]).numpy()).max() < 1e-4


def test_export_refuses_a_net_for_another_game(tmp_path):
    net = ResNet(games.load("tictactoe"), **SMALL)
    with pytest.raises(ModelMismatchError, match="tictactoe.*connect4"):
        models.export(net, games.load("connect4"), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_train_step_decreases_the_loss(exported):
    game, _, _ = exported
    torch.manual_seed(2)
    net = ResNet(game, **SMALL).train()
    states = random_states(game, 24, seed=5)
    obs = torch.from_numpy(np.stack([s.observation() for s in states]))
    mask = torch.from_numpy(np.stack([s.legal_actions_mask() for s in states]))
    policy = mask.float() * torch.rand(mask.shape)
    policy /= policy.sum(-1, keepdim=True)
    values = torch.empty(len(states)).uniform_(-1, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.0)
    before, parts = net.loss(obs, policy, values, mask)
    opt.zero_grad()
    before.backward()
    opt.step()
    after, _ = net.loss(obs, policy, values, mask)
    assert set(parts) == {"policy", "value"}
    assert float(after.detach()) < float(before.detach())


# -- the evaluator ------------------------------------------------------------------------------

def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_evaluator_priors_are_a_softmax_over_legal_actions(exported):
    game, net, path = exported
    ev = models.OnnxEvaluator(path, game=game, providers=["CPUExecutionProvider"], cache_size=0)
    states = random_states(game, 20, seed=1)
    priors, values = ev.evaluate(states)
    assert priors.dtype == np.float32 and values.dtype == np.float32
    assert priors.shape == (20, game.num_actions) and values.shape == (20,)
    masks = np.stack([s.legal_actions_mask() for s in states])
    assert (priors[~masks] == 0).all() and (priors[masks] > 0).all()
    np.testing.assert_allclose(priors.sum(-1), 1.0, atol=1e-5)
    assert (np.abs(values) <= 1.0).all()
    with torch.no_grad():
        logits, vl = net(torch.from_numpy(np.stack([s.observation() for s in states])))
        want = torch.softmax(logits.masked_fill(~torch.from_numpy(masks), float("-inf")), -1).numpy()
        want_values = net.value(vl).numpy()
    assert np.abs(priors - want).max() < 1e-4 and np.abs(values - want_values).max() < 1e-4
    assert ev.evaluations == 20 and ev.batches == 1 and ev.onnx_seconds > 0


def test_evaluator_splits_large_batches_and_caches(exported):
    game, _, path = exported
    states = random_states(game, 30, seed=2)
    big = models.OnnxEvaluator(path, game=game, providers=["CPUExecutionProvider"], cache_size=0)
    small = models.OnnxEvaluator(path, game=game, providers=["CPUExecutionProvider"], batch_size=8)
    p_big, v_big = big.evaluate(states)
    p1, v1 = small.evaluate(states)
    unique = len({s.hash() for s in states})
    assert small.batches == -(-unique // 8) and small.evaluations == unique
    np.testing.assert_allclose(p1, p_big, atol=1e-5)
    np.testing.assert_allclose(v1, v_big, atol=1e-5)
    hits = small.cache_hits
    p2, v2 = small.evaluate(states)
    assert np.array_equal(p1, p2) and np.array_equal(v1, v2)  # identical, not just close
    assert small.cache_hits == hits + 30 and small.evaluations == unique  # nothing re-run
    assert small.cache_misses == unique


def test_cache_is_lru_and_dedupes_within_a_batch(tmp_path):
    game = games.load("tictactoe")
    path = models.export(ResNet(game, **SMALL).eval(), game, tmp_path / "t.onnx")
    ev = models.OnnxEvaluator(path, game=game, providers=["CPUExecutionProvider"], cache_size=2)
    a, b, c = (game.deserialize(m) for m in ("", "4", "40"))
    p, v = ev.evaluate([a, b, a])  # a twice in one batch: evaluated once
    assert ev.evaluations == 2 and ev.cache_hits == 1
    assert np.array_equal(p[0], p[2]) and v[0] == v[2]
    ev.evaluate([a])  # a becomes most recent
    ev.evaluate([c])  # evicts b
    before = ev.evaluations
    ev.evaluate([a])
    assert ev.evaluations == before
    ev.evaluate([b])
    assert ev.evaluations == before + 1
    ev.clear_cache()
    ev.evaluate([a])
    assert ev.evaluations == before + 2
    empty_p, empty_v = ev.evaluate([])
    assert empty_p.shape == (0, 9) and empty_v.shape == (0,)


def test_providers_choice_forced_and_printed_once(tmp_path, capfd):
    from models import onnx_evaluator

    game = games.load("tictactoe")
    path = models.export(ResNet(game, **SMALL).eval(), game, tmp_path / "t.onnx")
    import onnxruntime as ort

    auto = models.choose_providers()
    assert auto[-1] == "CPUExecutionProvider" and set(auto) <= set(ort.get_available_providers())
    onnx_evaluator._announced.clear()
    capfd.readouterr()
    models.OnnxEvaluator(path, providers=["CPUExecutionProvider"])
    models.OnnxEvaluator(path, providers=["CPUExecutionProvider"])
    err = capfd.readouterr().err
    assert err.count("CPUExecutionProvider") == 1 and "t.onnx" in err
    with pytest.raises(ValueError, match="NoSuchExecutionProvider.*not available"):
        models.OnnxEvaluator(path, providers=["NoSuchExecutionProvider"])
    with pytest.raises(ValueError, match="batch_size"):
        models.OnnxEvaluator(path, batch_size=0)


# -- bad model files ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ttt_model(tmp_path_factory) -> Path:
    game = games.load("tictactoe")
    return models.export(ResNet(game, **SMALL).eval(), game, tmp_path_factory.mktemp("ttt") / "ttt.onnx")


def test_missing_truncated_and_random_files(tmp_path, ttt_model):
    with pytest.raises(ModelFileError, match="nope.onnx.*does not exist"):
        models.OnnxEvaluator(tmp_path / "nope.onnx")
    data = ttt_model.read_bytes()
    (tmp_path / "half.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="half.onnx.*not a loadable ONNX model"):
        models.OnnxEvaluator(tmp_path / "half.onnx")
    (tmp_path / "noise.onnx").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ModelFileError, match="noise.onnx"):
        models.OnnxEvaluator(tmp_path / "noise.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty.onnx.*empty"):
        models.OnnxEvaluator(tmp_path / "empty.onnx")
    with pytest.raises(ModelFileError, match="not a regular file"):
        models.OnnxEvaluator(tmp_path)
    assert issubclass(ModelFileError, ValueError)


def _tiny_onnx(path: Path, input_shape, policy_width: int, props: dict[str, str] | None) -> Path:
    """A hand-built ONNX model: policy = first ``policy_width`` inputs, value = their sum."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    flat = int(np.prod(input_shape[1:]))
    nodes = [
        helper.make_node("Flatten", ["observation"], ["flat"], axis=1),
        helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["policy_logits"]),
        helper.make_node("ReduceSum", ["policy_logits", "sum_axes"], ["value"], keepdims=0),
    ]
    inits = [helper.make_tensor(n, TensorProto.INT64, [1], [v])
             for n, v in (("starts", 0), ("ends", min(policy_width, flat)), ("axes", 1), ("sum_axes", 1))]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("policy_logits", TensorProto.FLOAT, ["batch", policy_width]),
         helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch"])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if props:
        helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


TTT_PROPS = {"plytree_format": "1", "game": "tictactoe", "game_params": "{}", "observation_shape": "[3, 3, 3]",
             "num_actions": "9", "value_head": "hlgauss", "num_bins": "51"}


def test_onnx_models_with_wrong_shapes_or_no_metadata(tmp_path):
    # a well-formed model of the right layout passes the checks (the tests below differ in one thing)
    ok = _tiny_onnx(tmp_path / "ok.onnx", ["batch", 3, 3, 3], 9, TTT_PROPS)
    priors, _ = models.OnnxEvaluator(ok, game=games.load("tictactoe")).evaluate([games.load("tictactoe").deserialize("4")])
    assert priors[0, 4] == 0 and abs(priors.sum() - 1) < 1e-5
    bad_input = _tiny_onnx(tmp_path / "input.onnx", ["batch", 5], 5, TTT_PROPS)
    with pytest.raises(ModelFileError, match=r"input.onnx.*input shape.*observation_shape \[3, 3, 3\]"):
        models.OnnxEvaluator(bad_input)
    bad_policy = _tiny_onnx(tmp_path / "policy.onnx", ["batch", 3, 3, 3], 7, TTT_PROPS)
    with pytest.raises(ModelFileError, match="policy.onnx.*7 actions.*num_actions=9"):
        models.OnnxEvaluator(bad_policy)
    fixed = _tiny_onnx(tmp_path / "fixed.onnx", [4, 3, 3, 3], 9, TTT_PROPS)
    with pytest.raises(ModelFileError, match="fixed.onnx.*batch axis"):
        models.OnnxEvaluator(fixed)
    bare = _tiny_onnx(tmp_path / "bare.onnx", ["batch", 3, 3, 3], 9, None)
    with pytest.raises(ModelFileError, match="bare.onnx.*metadata lacks"):
        models.OnnxEvaluator(bare)
    newer = _tiny_onnx(tmp_path / "newer.onnx", ["batch", 3, 3, 3], 9, {**TTT_PROPS, "plytree_format": "99"})
    with pytest.raises(ModelFileError, match="newer.onnx.*format 99"):
        models.OnnxEvaluator(newer)


def test_model_for_another_game_is_refused(tmp_path, ttt_model):
    c4 = games.load("connect4")
    c4_model = models.export(ResNet(c4, **SMALL).eval(), c4, tmp_path / "c4.onnx")
    ttt = games.load("tictactoe")
    with pytest.raises(ModelMismatchError, match=r"c4.onnx.*network for connect4.*game searched is tictactoe"):
        models.OnnxEvaluator(c4_model, game=ttt)
    # without game=, the first states evaluated are checked
    ev = models.OnnxEvaluator(c4_model)
    with pytest.raises(ModelMismatchError, match="connect4.*tictactoe"):
        ev.evaluate([ttt.new_initial_state()])

    class OtherParams:  # the same game name with other parameters
        name, params, observation_shape, num_actions = "tictactoe", {"size": 4}, (3, 3, 3), 9

    with pytest.raises(ModelMismatchError, match=r"tictactoe.*tictactoe\(size=4\)"):
        models.OnnxEvaluator(ttt_model, game=OtherParams())
    assert issubclass(ModelMismatchError, ValueError)


# -- driving MCTS -------------------------------------------------------------------------------

def test_mcts_runs_with_an_exported_network(exported):
    """MCTS with an exported (untrained) network on every game: a legal move, visits that add up,
    and the priors the search reports are the evaluator's."""
    import mcts

    game, _, path = exported
    ev = models.OnnxEvaluator(path, game=game, providers=["CPUExecutionProvider"])
    search = mcts.MCTS(game, ev, batch_size=8, seed=0)
    state = random_states(game, 3, seed=7)[-1]
    result = search.run(state, mcts.Limit(simulations=64))
    assert result.best_action in state.legal_actions()
    assert set(result.actions) == set(state.legal_actions())
    assert sum(result.visits) >= 32 and -1.0 <= result.value <= 1.0
    assert ev.evaluations >= 8 and ev.batches >= 1 and ev.onnx_seconds > 0
    root_priors, _ = ev.evaluate([state])  # cached: the root was evaluated by the search
    assert ev.cache_hits >= 1
    np.testing.assert_allclose(result.priors, root_priors[0, list(result.actions)], atol=1e-5)


def test_onnxruntime_failure_is_a_model_runtime_error(tmp_path):
    """A model that loads but fails when run (a reshape that only fits batches of 2)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Reshape", ["observation", "two_rows"], ["flat"]),  # [2, 27 * B / 2]
        helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["policy_logits"]),
        helper.make_node("ReduceSum", ["policy_logits", "axes"], ["value"], keepdims=0),
    ]
    inits = [helper.make_tensor("two_rows", TensorProto.INT64, [2], [2, -1])] + [
        helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("starts", 0), ("ends", 9), ("axes", 1))]
    graph = helper.make_graph(
        nodes, "fails",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, ["batch", 3, 3, 3])],
        [helper.make_tensor_value_info("policy_logits", TensorProto.FLOAT, ["batch", 9]),
         helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch"])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, TTT_PROPS)
    onnx.save(model, str(tmp_path / "fails.onnx"))
    game = games.load("tictactoe")
    ev = models.OnnxEvaluator(tmp_path / "fails.onnx", game=game, cache_size=0)
    states = [game.deserialize(m) for m in ("", "4", "40")]
    assert ev.evaluate(states[:2])[0].shape == (2, 9)  # a batch of 2 runs
    with pytest.raises(models.ModelRuntimeError, match="fails.onnx.*batch of 3") as info:
        ev.evaluate(states)
    assert info.value.__cause__ is not None
