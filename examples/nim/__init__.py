"""A user's own game, twice: misère Nim in pure Python (``nim_py``) and in Cython against the C game
interface (``nim_c.pyx``, built by ``python examples/nim/build.py``). See docs/games.md."""
