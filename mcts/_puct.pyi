"""Type stubs for ``mcts._puct``: MCTS with PUCT selection over a tree of C structs."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from mcts._limit import Limit, SearchResult

def monotonic() -> float: ...
def node_size() -> int: ...
def considered_visits(num_considered: int, num_simulations: int) -> list[int]: ...

class MCTS:
    game: Any
    evaluator: Any
    on_info: Optional[Callable[[SearchResult], None]]
    should_stop: Optional[Callable[[int, int, int], bool]]
    @property
    def num_actions(self) -> int: ...
    def __init__(
        self,
        game: Any,
        evaluator: Any,
        *,
        c_puct: float = 1.25,
        c_puct_base: float = 19652.0,
        c_puct_factor: float = 1.0,
        batch_size: int = 16,
        seed: Optional[int] = 0,
        memory_limit: int = ...,
        fpu_reduction: float = 0.25,
        dirichlet_alpha: Optional[float] = None,
        dirichlet_fraction: float = 0.25,
        temperature: float = 1.0,
        final_selection: str = "visits",
        gumbel: bool = False,
        gumbel_considered: int = 16,
        gumbel_value_scale: float = 0.1,
        gumbel_maxvisit_init: float = 50.0,
        solver: bool = True,
        tree_reuse: bool = True,
        smart_pruning: bool = False,
        on_info: Optional[Callable[[SearchResult], None]] = None,
        should_stop: Optional[Callable[[int, int, int], bool]] = None,
        info_interval: float = 0.1,
        threads: int = 1,
    ) -> None: ...
    def reset(self) -> None: ...
    def stop(self) -> None: ...
    def run(self, state: Any, limit: Limit) -> SearchResult: ...
    @property
    def node_size(self) -> int: ...
    @property
    def tree_nodes(self) -> int: ...
    @property
    def tree_bytes(self) -> int: ...
    def child_stats(self, actions: Iterable[int] = ()) -> dict[int, tuple[int, float, int]]: ...
    def check_tree(self) -> list[str]: ...
