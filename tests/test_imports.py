"""The dependency rules of docs/DESIGN (README "Layout"), read from every import in the source.

- ``games`` imports none of ``mcts``, ``models``, ``engine``;
- ``mcts`` never imports ``models`` or ``engine``;
- ``models`` never imports ``engine``;
- no package imports another package's private module (``mcts._limit``): it goes through the public
  ``__init__`` (``from mcts import Limit``) or a module made public on purpose (``mcts.budget``).
  ``cimport`` of another package's ``.pxd`` is the C interface and is allowed.

Every import counts: top-level and lazy ones inside functions, ``importlib.import_module("...")`` and
``__import__("...")`` with a string literal, and tables that map names to module strings (as
``models/__init__.py``'s ``_LAZY``). ``.py`` files are read with ``ast``; ``.pyx``/``.pxd`` files with a
regular expression over their ``import``/``cimport`` lines.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("games", "mcts", "models", "engine")
FORBIDDEN = {"games": {"mcts", "models", "engine"}, "mcts": {"models", "engine"}, "models": {"engine"}, "engine": set()}
_MODULE_STRING = re.compile(r"^(?:games|mcts|models|engine)(?:\.\w+)+$")  # dotted: a bare "mcts" may be a name


@dataclass(frozen=True)
class Import:
    """One module a source file imports."""

    path: Path
    line: int
    module: str  # dotted, absolute
    cimport: bool = False  # a Cython cimport (C interface through a .pxd)

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _package_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(path: Path, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    base = _module_of(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def python_imports(path: Path) -> list[Import]:
    """Every module a ``.py`` file names: import statements anywhere (lazy ones too), string literals
    passed to ``importlib.import_module`` / ``__import__``, and string constants that spell one of our
    modules (lazy-import tables)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node.module, node.level)
            found.append(Import(path, node.lineno, base))
            # `from mcts import _limit` imports a module too
            found.extend(Import(path, node.lineno, f"{base}.{alias.name}") for alias in node.names
                         if alias.name.startswith("_") and not alias.name.startswith("__"))
        elif (isinstance(node, ast.Call) and _called_name(node.func) in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append(Import(path, node.lineno, node.args[0].value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            found.append(Import(path, node.lineno, node.value))
    return sorted(set(found), key=lambda imp: (imp.line, imp.module))  # import_module("x") is also a string


_CYTHON_IMPORT = re.compile(r"^\s*(?:from\s+(?P<from>[\w.]+)\s+(?P<kind>c?import)\b|(?P<plain>c?import)\s+(?P<names>[\w., ]+))")


def cython_imports(path: Path) -> list[Import]:
    """Every module a ``.pyx``/``.pxd`` file imports or cimports, read line by line."""
    found: list[Import] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = _CYTHON_IMPORT.match(text)
        if not m:
            continue
        if m.group("from"):
            found.append(Import(path, number, m.group("from"), cimport=m.group("kind") == "cimport"))
        else:
            for name in m.group("names").split(","):
                name = name.strip().split(" ")[0]
                if name:
                    found.append(Import(path, number, name, cimport=m.group("plain") == "cimport"))
    return found


def source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for suffix in ("*.py", "*.pyx", "*.pxd"):
            files.extend(p for p in (ROOT / package).rglob(suffix) if "build" not in p.parts)
    return sorted(files)


def all_imports() -> list[Import]:
    found: list[Import] = []
    for path in source_files():
        found.extend(python_imports(path) if path.suffix == ".py" else cython_imports(path))
    return found


def violations(imports: list[Import]) -> list[str]:
    """``file:line: what is wrong`` for each import that breaks a rule."""
    out = []
    for imp in imports:
        package = _package_of(imp.path)
        target = imp.module.split(".")
        if target[0] not in PACKAGES:
            continue
        if target[0] in FORBIDDEN[package]:
            out.append(f"{imp.where()}: {package} imports {imp.module} ({package} must not import {target[0]})")
        elif target[0] != package and not imp.cimport and any(p.startswith("_") for p in target[1:]):
            out.append(f"{imp.where()}: {package} imports {imp.module}, a private module of {target[0]} "
                       f"(import it from {target[0]}'s __init__, or make the module public)")
    return out


def test_the_reader_finds_every_kind_of_import(tmp_path, monkeypatch):
    """The checker itself: each kind of import is found and a broken rule is reported with file:line."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "mcts").mkdir()
    py = tmp_path / "mcts" / "_x.py"
    py.write_text(
        "import importlib\n"
        "__import__('engine')\n"
        "from games import load\n"
        "def f():\n"
        "    import models.llm\n"
        "    return importlib.import_module('engine.uci')\n"
        "_TABLE = {'a': 'models.nets'}\n"
        "from games._protocol import State\n"
        "from . import _y\n"
        "from games import _registry\n", encoding="utf-8")
    pyx = tmp_path / "mcts" / "_z.pyx"
    pyx.write_text("from games._cgame cimport CGame\nfrom games._cgame import CState\ncimport numpy as cnp\n",
                   encoding="utf-8")
    found = python_imports(py) + cython_imports(pyx)
    broken = violations(found)
    assert "mcts/_x.py:2: mcts imports engine (mcts must not import engine)" in broken
    assert "mcts/_x.py:5: mcts imports models.llm (mcts must not import models)" in broken
    assert any(v.startswith("mcts/_x.py:6: mcts imports engine.uci") for v in broken)
    assert any(v.startswith("mcts/_x.py:7: mcts imports models.nets") for v in broken)
    assert any(v.startswith("mcts/_x.py:8: mcts imports games._protocol, a private module") for v in broken)
    assert any(v.startswith("mcts/_x.py:10: mcts imports games._registry, a private module") for v in broken)
    assert any(v.startswith("mcts/_z.pyx:2: mcts imports games._cgame, a private module") for v in broken)
    # allowed: a public import (line 3), a private module of the own package (line 9), a cimport
    assert not any(v.startswith(("mcts/_x.py:3:", "mcts/_x.py:9:", "mcts/_z.pyx:1:")) for v in broken)
    assert len(broken) == 7


def test_every_package_reads():
    """Every package has files to check and imports to read (the reader is not looking at nothing)."""
    files = source_files()
    for package in PACKAGES:
        assert any(_package_of(p) == package for p in files)
    assert len(all_imports()) > 200


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_rules(package):
    broken = [v for v in violations(all_imports()) if v.startswith(package + "/")]
    assert not broken, "broken dependency rules:\n" + "\n".join(broken)
