"""Build the Cython extensions of plytree.

Every ``.pyx`` file under the four packages becomes an extension of the same dotted name.
Compiler directives are set once, here. Environment variables:

* ``PLYTREE_BOUNDSCHECK=1`` turns bounds, wraparound and initialisation checks on (debugging).
* ``PLYTREE_EXT=games.connect4,mcts._puct`` builds only the listed extensions (faster rebuilds).
* ``PLYTREE_PORTABLE=1`` builds for any x86-64 (no BMI/BMI2/POPCNT flags: the chess board indexes its
  slider tables by magic multiplication instead of PEXT). Without it the flags are used only when the
  build machine has BMI2 with a fast PEXT (not AMD family 17h, Zen 1/2, where PEXT is microcoded);
  ``PLYTREE_PORTABLE=0`` forces them.
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


def _cpu_has_fast_pext(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this machine's CPU has BMI2 with a fast PEXT (Intel Haswell on, AMD Zen 3 on)."""
    try:
        text = open(cpuinfo).read()
    except OSError:
        return False
    first = text.split("\n\n", 1)[0]
    fields = dict((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in first.splitlines()))
    flags = set(fields.get("flags", "").split())
    if not {"bmi1", "bmi2", "popcnt"} <= flags:
        return False
    # AMD before Zen 3 (family 0x17) runs PEXT in microcode, slower than magic multiplication
    return not (fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family", "") in ("21", "22", "23"))


def _native_bitboard_flags() -> bool:
    portable = os.environ.get("PLYTREE_PORTABLE", "")
    if portable not in ("", "0", "1"):
        raise SystemExit(f"PLYTREE_PORTABLE must be 0 or 1, got {portable!r}")
    if platform.machine() not in ("x86_64", "AMD64") or portable == "1":
        return False
    return portable == "0" or _cpu_has_fast_pext()


COMPILE_ARGS = ["-O3"]
if _native_bitboard_flags():
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
