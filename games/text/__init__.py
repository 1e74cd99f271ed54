"""Text-agent environments (rules only): the protocol, the Game of 24, code repair, text revision,
Connect Four positions, the sandbox that runs code under limits, and task files (docs/llm.md, "Agents").

Nothing here imports ``mcts``, ``models`` or ``engine``: the search over these environments is
``mcts.agent_search`` and the model's prompts are answered in ``models.llm``.
"""
from __future__ import annotations

from games.text._protocol import InvalidActionError, TaskError, TextEnvironment
from games.text._tasks import DATA_DIR, ENVIRONMENTS, environment_names, load_tasks, make_env
from games.text.code_repair import CodeRepair, CodeState
from games.text.connect4 import C4State, Connect4Task, opponent_reply
from games.text.game24 import Game24, Game24State, is_solvable, puzzles, solve
from games.text.revision import RevisionState, TextRevision
from games.text.sandbox import SandboxError, SandboxLimits, SandboxResult, run_python

__all__ = [
    "DATA_DIR",
    "ENVIRONMENTS",
    "C4State",
    "CodeRepair",
    "CodeState",
    "Connect4Task",
    "Game24",
    "Game24State",
    "InvalidActionError",
    "RevisionState",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "TaskError",
    "TextEnvironment",
    "TextRevision",
    "environment_names",
    "is_solvable",
    "load_tasks",
    "make_env",
    "opponent_reply",
    "puzzles",
    "run_python",
    "solve",
]
