"""Task files and the registry of text environments.

A task file is JSON: ``{"env": NAME, "tasks": [{"id": ..., ...}, ...]}``; the fields of a task are
those of the environment's ``from_task``. The shipped files are ``games/text/data/<env>.json``; more
can be loaded from any path (``load_tasks(env, path)``) or written inline on the command line
(``make_env("game24", "4 7 8 8")``, ``make_env("connect4", "4453")``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from games.text._protocol import TaskError, TextEnvironment
from games.text.code_repair import CodeRepair
from games.text.connect4 import Connect4Task
from games.text.game24 import Game24
from games.text.revision import TextRevision

DATA_DIR = Path(__file__).resolve().parent / "data"

ENVIRONMENTS: dict[str, Callable[..., TextEnvironment]] = {
    "game24": Game24.from_task,
    "code_repair": CodeRepair.from_task,
    "revision": TextRevision.from_task,
    "connect4": Connect4Task.from_task,
}


def environment_names() -> list[str]:
    """The registered environments."""
    return list(ENVIRONMENTS)


def _check_env(env: str) -> None:
    if env not in ENVIRONMENTS:
        raise TaskError(f"unknown text environment {env!r}; known: {', '.join(ENVIRONMENTS)}")


def load_tasks(env: str, path: str | os.PathLike | None = None) -> list[dict]:
    """The task records of ``env`` from ``path`` (default: the shipped file).

    Raises:
        TaskError: unknown environment, unreadable or malformed file, a file of another environment,
            or tasks without unique ids.
    """
    _check_env(env)
    file = Path(path) if path is not None else DATA_DIR / f"{env}.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaskError(f"cannot read the task file {file}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise TaskError(f"the task file {file} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise TaskError(f"the task file {file} needs an object with a 'tasks' list")
    if data.get("env", env) != env:
        raise TaskError(f"the task file {file} is for {data.get('env')!r}, not {env!r}")
    tasks = data["tasks"]
    ids = [str(t.get("id")) for t in tasks if isinstance(t, dict)]
    if len(ids) != len(tasks) or len(set(ids)) != len(ids):
        raise TaskError(f"the tasks of {file} must be objects with unique ids")
    return tasks


def _inline_task(env: str, text: str) -> dict[str, Any] | None:
    parts = text.replace(",", " ").split()
    if env == "game24" and parts and all(p.isdigit() for p in parts):
        return {"id": "-".join(parts), "numbers": [int(p) for p in parts]}
    if env == "connect4" and text.isdigit():
        return {"id": text, "moves": text}
    return None


def make_env(env: str, task: str | int | None = None, *, path: str | os.PathLike | None = None,
             **options) -> TextEnvironment:
    """An environment for one task.

    Args:
        env: the environment's name.
        task: a task id of the file, its index, an inline task (Game of 24 numbers ``"4 7 8 8"``,
            Connect Four moves ``"4453"``), or None for the file's first task.
        path: a task file (default: the shipped one).
        **options: passed to the environment (``max_attempts``, ``horizon``, ``enumerate``, ...).

    Raises:
        TaskError: unknown environment or task.
    """
    tasks = load_tasks(env, path)
    record: dict | None = None
    if task is None:
        record = tasks[0] if tasks else None
    else:
        key = str(task)
        record = next((t for t in tasks if str(t.get("id")) == key), None)
        if record is None and key.isdigit() and int(key) < len(tasks) and env != "connect4":
            record = tasks[int(key)]
        if record is None:
            record = _inline_task(env, key)
    if record is None:
        raise TaskError(f"no task {task!r} for {env}; tasks: {', '.join(str(t.get('id')) for t in tasks)}")
    return ENVIRONMENTS[env](record, **options)
