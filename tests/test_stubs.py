"""The ``.pyi`` stubs of the Cython modules: every name they declare exists on the compiled module
(with the same kind: class, function, method, property), every public name of the module is
declared, and mypy accepts a typed use of the API and rejects a wrong one."""
from __future__ import annotations

import ast
import importlib
import inspect
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUBS = {
    "mcts._puct": "mcts/_puct.pyi",
    "mcts._c4solver": "mcts/_c4solver.pyi",
    "mcts._alphabeta": "mcts/_alphabeta.pyi",
    "mcts._chess_ab": "mcts/_chess_ab.pyi",
    "mcts._chess_evaluator": "mcts/_chess_evaluator.pyi",
    "mcts._hex_dfpn": "mcts/_hex_dfpn.pyi",
    "mcts._nnue": "mcts/_nnue.pyi",
    "games._cgame": "games/_cgame.pyi",
    "games.tictactoe": "games/tictactoe.pyi",
    "games.connect4": "games/connect4.pyi",
    "games.hex": "games/hex.pyi",
    "games.chessboard": "games/chessboard.pyi",
}


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Subscript):  # _Game[HexState]
            base = base.value
        if isinstance(base, ast.Name):
            names.append(base.id)
    return names


def _stub_only_classes() -> dict[str, tuple[list[str], dict[str, str]]]:
    """The private classes the stubs declare for typing alone ("Stub only": no such class at run
    time), by name: (base names, members)."""
    out = {}
    for path in STUBS.values():
        for node in ast.parse((ROOT / path).read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("_"):
                assert "Stub only" in (ast.get_docstring(node) or ""), f"{path}: {node.name} is private but not stub-only"
                out[node.name] = (_base_names(node), _class_members(node))
    return out


def _class_members(node: ast.ClassDef) -> dict[str, str]:
    members: dict[str, str] = {}
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            decorators = {d.id for d in item.decorator_list if isinstance(d, ast.Name)}
            members[item.name] = "property" if "property" in decorators else (
                "classmethod" if "classmethod" in decorators else "method")
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members[item.target.id] = "attribute"
    return members


def _declared(path: Path) -> dict[str, object]:
    """Top-level names of a stub: classes map to {member: kind} (with the members of the stub-only
    classes they derive from, which the run-time class must have itself), the rest to their kind.
    Stub-only classes are left out (they do not exist at run time)."""
    tree = ast.parse(path.read_text())
    stub_only = _stub_only_classes()
    out: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            if node.name in stub_only:
                continue
            members: dict[str, str] = {}
            pending = [b for b in _base_names(node) if b in stub_only]
            while pending:
                bases, inherited = stub_only[pending.pop()]
                members.update(inherited)
                pending.extend(b for b in bases if b in stub_only)
            members.update(_class_members(node))
            out[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = "function"
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = "constant"
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.startswith("_") for t in node.targets):
            continue  # a stub-only type variable
    return out


def _instance_for(module, cls):
    """An instance to look up instance attributes on (games and searches need arguments)."""
    import games

    name = cls.__name__
    if name.endswith("Game"):
        return cls()
    if name.endswith("State") and hasattr(module, name.replace("State", "Game")):
        return getattr(module, name.replace("State", "Game"))().new_initial_state()
    if name == "ChessBoardState":
        return games.load("chess").new_initial_state()
    if name == "CState":
        return games.load("tictactoe").new_initial_state()
    if name == "MCTS":
        from mcts import UniformEvaluator
        return cls(games.load("tictactoe"), UniformEvaluator())
    if name == "CAlphaBeta":
        return cls(games.load("tictactoe"))
    if name == "ChessAlphaBeta":
        return cls(games.load("chess"))
    if name == "Connect4Solver":
        return cls(table_bits=10)
    return None


@pytest.mark.parametrize("module_name", sorted(STUBS))
def test_stub_names_exist_on_the_compiled_module(module_name):
    module = importlib.import_module(module_name)
    assert module.__file__.endswith(".so"), f"{module_name} is not compiled: {module.__file__}"
    declared = _declared(ROOT / STUBS[module_name])
    problems = []
    for name, kind in declared.items():
        if not hasattr(module, name):
            problems.append(f"{name} is not in the module")
            continue
        obj = getattr(module, name)
        if isinstance(kind, dict):
            if not inspect.isclass(obj):
                problems.append(f"{name} is not a class")
                continue
            instance = _instance_for(module, obj)
            for member, member_kind in kind.items():
                if member == "__init__":
                    continue
                if not hasattr(obj, member) and not (instance is not None and hasattr(instance, member)):
                    problems.append(f"{name}.{member} does not exist")
                    continue
                raw = inspect.getattr_static(obj, member, None)
                if member_kind == "method" and raw is not None and not callable(getattr(obj, member)):
                    problems.append(f"{name}.{member} is not a method")
                if member_kind == "property" and raw is not None and callable(raw) and not hasattr(raw, "__get__"):
                    problems.append(f"{name}.{member} is not a property")
        elif kind == "function" and not callable(obj):
            problems.append(f"{name} is not callable")
    # and the other way round: every public class and function of the module is declared
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if (inspect.isclass(obj) or callable(obj)) and name not in declared:
            problems.append(f"{name} is public but missing from the stub")
    assert problems == [], problems


def test_stub_checker_notices_a_missing_name(tmp_path):
    stub = tmp_path / "bad.pyi"
    stub.write_text("class MCTS:\n    def no_such_method(self) -> None: ...\n")
    declared = _declared(stub)
    from mcts import _puct
    assert not hasattr(_puct.MCTS, "no_such_method") and "no_such_method" in declared["MCTS"]


TYPED_USE = """
from __future__ import annotations

import games
from games.chessboard import ChessBoardState, from_fen
from games.connect4 import Connect4Game
from mcts import MCTS, AlphaBeta, Limit, RolloutEvaluator, SearchResult, StopReason
from mcts._c4solver import Connect4Solver

state: ChessBoardState = from_fen("4k3/8/8/8/8/8/8/4K2R w K - 0 1")
fen: str = state.fen()
moves: list[int] = state.legal_actions()
search = MCTS(Connect4Game(), RolloutEvaluator(1), c_puct=1.5, tree_reuse=True)
result: SearchResult = search.run(Connect4Game().new_initial_state(), Limit(simulations=10))
reason: StopReason = result.stop_reason
nodes: int = search.tree_nodes
score: int = Connect4Solver().solve("44")
"""


@pytest.fixture(scope="module")
def mypy() -> list[str]:
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.fail("mypy is not installed: pip install -e '.[dev]'")
    return [sys.executable, "-m", "mypy"]


def _run_mypy(mypy: list[str], tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(source))
    return subprocess.run(mypy + ["--no-incremental", "--cache-dir", str(tmp_path / ".mypy_cache"),
                                  "--ignore-missing-imports", "--follow-imports=silent", str(snippet)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MYPYPATH": str(ROOT)})


@pytest.mark.slow
def test_mypy_accepts_typed_use_and_rejects_a_wrong_one(mypy, tmp_path):
    ok = _run_mypy(mypy, tmp_path, TYPED_USE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = TYPED_USE + "wrong: str = search.tree_nodes\nsearch.run(1)\n"
    first_bad = len(TYPED_USE.splitlines()) + 1
    bad = _run_mypy(mypy, tmp_path, wrong)
    assert bad.returncode == 1, bad.stdout
    assert f"snippet.py:{first_bad}:" in bad.stdout and f"snippet.py:{first_bad + 1}:" in bad.stdout, bad.stdout
