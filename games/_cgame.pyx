"""Base class of the games that have a C interface (see ``_cgame.pxd``).

The Python-level verbs of the game protocol that only need the function table live here, once;
subclasses add the game-specific ones (observation, text, serialisation).
"""
from libc.stdint cimport uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

import numpy as np

from games._errors import ActionOutOfRangeError, IllegalActionError


cdef uint64_t splitmix64(uint64_t* x) noexcept nogil:
    x[0] += 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = x[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef double generic_rollout(const CGame* g, void* state, uint64_t* rng) noexcept nogil:
    cdef int* buf = <int*> malloc(g.max_legal * sizeof(int))
    cdef int n
    if buf == NULL:
        return 0.0
    while not g.is_terminal(state):
        n = g.legal_actions(state, buf)
        g.apply_action(state, buf[splitmix64(rng) % <uint64_t> n])
    free(buf)
    return g.returns0(state)


cdef double cgame_rollout(const CGame* g, void* state, uint64_t* rng) noexcept nogil:
    if g.rollout != NULL:
        return g.rollout(state, rng)
    return generic_rollout(g, state, rng)


def _restore(cls, game, bytes data):
    """Unpickle a CState (used by multiprocessing and Ray)."""
    cdef CState s = cls.__new__(cls)
    s.game = game
    if len(data) != s.cgame.state_size:
        raise ValueError(f"pickled {cls.__name__} has {len(data)} bytes, expected {s.cgame.state_size}")
    memcpy(s.data, <const char*> data, s.cgame.state_size)
    return s


cdef class CState:
    """A position of a game with a C interface. Subclasses own the struct and point ``data`` at it."""

    cdef CState _new_like(self):
        cdef CState s = type(self).__new__(type(self))
        s.game = self.game
        return s

    cdef CState _from_data(self, const void* data):
        cdef CState s = self._new_like()
        memcpy(s.data, data, self.cgame.state_size)
        return s

    def clone(self):
        """An independent copy of this state."""
        return self._from_data(self.data)

    def __copy__(self):
        return self.clone()

    def __deepcopy__(self, memo):
        return self.clone()

    def __reduce__(self):
        return (_restore, (type(self), self.game, (<char*> self.data)[:self.cgame.state_size]))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.hash() == other.hash() and self.history() == other.history()

    def __hash__(self):
        return self.hash()

    def legal_actions(self):
        """The legal actions, ascending (empty when the game is over)."""
        cdef int n
        cdef int[4096] small
        cdef int* buf = small
        if self.cgame.max_legal > 4096:
            buf = <int*> malloc(self.cgame.max_legal * sizeof(int))
        n = self.cgame.legal_actions(self.data, buf)
        out = [buf[i] for i in range(n)]
        if buf != small:
            free(buf)
        return out

    def legal_actions_mask(self):
        """Boolean array ``[num_actions]``, true at the legal actions."""
        mask = np.zeros(self.cgame.num_actions, dtype=np.bool_)
        mask[self.legal_actions()] = True
        return mask

    def apply_action(self, int action):
        """Plays ``action`` WITHOUT checking it (the fast path for searches that only
        generate legal actions). An illegal or out-of-range action leaves the state undefined;
        use :meth:`apply_action_checked` for input from outside."""
        self.cgame.apply_action(self.data, action)

    def apply_action_checked(self, action):
        """Plays ``action`` after checking it.

        Raises:
            ActionOutOfRangeError: ``action`` is not an int in ``[0, num_actions)``.
            IllegalActionError: the action is in range but not legal here (or the game is over).
        """
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
            raise ActionOutOfRangeError(f"action {action!r} is not an integer (position {self.serialize()!r})")
        if not 0 <= action < self.cgame.num_actions:
            raise ActionOutOfRangeError(
                f"action {action!r} is outside [0, {self.cgame.num_actions}) (position {self.serialize()!r})")
        if action not in self.legal_actions():
            raise IllegalActionError(f"illegal action {action!r} ({self.action_to_string(action)}) in position {self.serialize()!r}")
        self.cgame.apply_action(self.data, action)

    def undo_action(self):
        """Takes back the last action.

        Raises:
            ValueError: no action has been played, or the game has no undo.
        """
        if self.cgame.undo_action == NULL:
            raise ValueError(f"{type(self).__name__} has no undo")
        if not self.history():
            raise ValueError("no action to undo")
        self.cgame.undo_action(self.data)

    def is_terminal(self):
        """Whether the game is over."""
        return bool(self.cgame.is_terminal(self.data))

    def current_player(self):
        """0 or 1 for the player to move, ``TERMINAL_PLAYER`` (-4) when the game is over."""
        return self.cgame.current_player(self.data)

    def returns(self):
        """Each player's return, ``[r0, r1]`` (zero-sum; zeros while the game is running)."""
        if not self.cgame.is_terminal(self.data):
            return [0.0, 0.0]
        cdef double r = self.cgame.returns0(self.data)
        return [r, -r]

    def hash(self):
        """64-bit key of the position: two move orders that reach one position share it."""
        return self.cgame.hash(self.data)

    def random_rollout(self, seed=0):
        """Plays random moves to the end in C on a copy; returns player 0's return."""
        cdef uint64_t rng = <uint64_t> seed
        cdef CState c = self.clone()
        return cgame_rollout(self.cgame, c.data, &rng)

    def random_rollouts(self, int n, seed=0, *, bint generic=False):
        """Plays ``n`` random games to the end from this position, all in C without the GIL.

        Args:
            n: number of playouts.
            seed: seeds the 64-bit generator, which runs on across the playouts.
            generic: use the generic playout through ``legal_actions``/``apply_action`` instead of
                the game's own one (for tests and benchmarks).

        Returns:
            float64 ``[n]``: player 0's return of each playout.

        Raises:
            ValueError: ``n`` is negative.
        """
        if n < 0:
            raise ValueError(f"random_rollouts: n={n} is negative")
        out = np.empty(n, dtype=np.float64)
        cdef double[::1] res = out
        cdef uint64_t rng = <uint64_t> seed
        cdef const CGame* g = self.cgame
        cdef void* work = malloc(g.state_size)
        cdef int i
        if work == NULL:
            raise MemoryError("random_rollouts: cannot allocate a position")
        with nogil:
            for i in range(n):
                memcpy(work, self.data, g.state_size)
                res[i] = generic_rollout(g, work, &rng) if generic else cgame_rollout(g, work, &rng)
        free(work)
        return out

    def _rollout_final_state(self, seed=0):
        """A copy of this state played to the end by the game's C playout (for tests)."""
        cdef uint64_t rng = <uint64_t> seed
        cdef CState c = self.clone()
        cgame_rollout(self.cgame, c.data, &rng)
        return c

    def __str__(self):
        return self.to_text()
