"""Builds ``nim_c.pyx`` in place: ``PYTHONPATH=. python examples/nim/build.py`` from the repository root.

``games/_cgame.pxd`` is found through the repository root (``include_path``), and the compiled
module imports ``games._cgame`` at run time, so the root must be on ``PYTHONPATH`` then too.
"""
from __future__ import annotations

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def build(target_dir: str = HERE) -> None:
    """Compiles ``nim_c`` into ``target_dir`` (where ``nim_c.pyx`` is)."""
    ext = Extension("nim_c", [os.path.join(target_dir, "nim_c.pyx")], extra_compile_args=["-O2"])
    modules = cythonize([ext], include_path=[ROOT], quiet=True, build_dir=os.path.join(target_dir, "build"))
    dist = Distribution({"ext_modules": modules})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = target_dir
    cmd.build_temp = os.path.join(target_dir, "build")
    cmd.ensure_finalized()
    cmd.run()


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else HERE)
