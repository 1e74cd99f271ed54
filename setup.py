"""Build the Cython extensions of plytree.

Every ``.pyx`` file under the four packages becomes an extension of the same dotted name.
Compiler directives are set once, here. Environment variables:

* ``PLYTREE_BOUNDSCHECK=1`` turns bounds, wraparound and initialisation checks on (debugging).
* ``PLYTREE_EXT=games.connect4,mcts._puct`` builds only the listed extensions (faster rebuilds).
"""
from __future__ import annotations

import glob
import os
import platform

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

PACKAGES = ("games", "mcts", "models", "engine")
CHECKED = os.environ.get("PLYTREE_BOUNDSCHECK", "") not in ("", "0")
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": CHECKED,
    "wraparound": CHECKED,
    "initializedcheck": CHECKED,
    "cdivision": True,
    "embedsignature": True,
}
COMPILE_ARGS = ["-O3"]
if platform.machine() in ("x86_64", "AMD64"):
    COMPILE_ARGS += ["-mpopcnt", "-mbmi", "-mbmi2"]  # popcount, tzcnt, pext for bitboards


def _extensions() -> list[Extension]:
    only = {name.strip() for name in os.environ.get("PLYTREE_EXT", "").split(",") if name.strip()}
    extensions = []
    for package in PACKAGES:
        for path in sorted(glob.glob(os.path.join(package, "*.pyx"))):
            name = path[:-4].replace(os.sep, ".")
            if only and name not in only:
                continue
            extensions.append(
                Extension(
                    name,
                    [path],
                    include_dirs=[numpy.get_include()],
                    extra_compile_args=COMPILE_ARGS,
                    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                )
            )
    return extensions


setup(
    ext_modules=cythonize(_extensions(), compiler_directives=DIRECTIVES, nthreads=0),
)
