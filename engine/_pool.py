"""One pool of workers for tournaments, self-play and measurements: in this process, in spawned worker
processes, or on Ray actors, all driven the same way.

A *worker* is an object built once per process or actor by ``factory(*factory_args)`` (a picklable,
module-level callable) and kept between tasks, so players and networks are loaded once. A task is a
call ``worker.method(*args)``; ``submit`` returns a ``concurrent.futures.Future`` and ``wait`` hands
back the futures that finished. All three kinds behave alike:

- at most ``workers`` tasks run at once; further submissions wait in the pool, in order;
- a worker that dies (a crash in native code) fails its task's future with an error for which
  ``is_worker_loss`` is true, so the caller can play the task again on a fresh pool;
- ``close`` ends the workers and, when this pool started a local Ray instance, shuts Ray down (a
  cluster the pool joined stays up).

The local kind runs each task inside ``wait`` (not ``submit``), so a caller that stores each result as
it comes loses nothing it had finished when it is killed.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Optional

KINDS = ("local", "process", "ray")


class PoolError(RuntimeError):
    """The pool cannot be used (Ray missing or unreachable, a closed pool)."""


def is_worker_loss(exc: BaseException) -> bool:
    """True when ``exc`` says a worker process or Ray actor died (not an error inside a task)."""
    names = ("RayActorError", "ActorDiedError", "WorkerCrashedError")
    return isinstance(exc, BrokenProcessPool) or any(c.__name__ in names for c in type(exc).__mro__)


# the worker of a spawned process, built by its initializer
_PROCESS_WORKER: Any = None


def _init_process(factory: Callable[..., Any], args: tuple) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = factory(*args)


def _call_in_process(method: str, args: tuple) -> Any:
    assert _PROCESS_WORKER is not None, "the worker process has no worker"
    return getattr(_PROCESS_WORKER, method)(*args)


class _Actor:
    """What a Ray actor holds: the worker built by ``factory(*args)``."""

    def __init__(self, factory: Callable[..., Any], args: tuple) -> None:
        self.worker = factory(*args)

    def call(self, method: str, args: tuple) -> Any:
        return getattr(self.worker, method)(*args)

    def close(self) -> None:
        close = getattr(self.worker, "close", None)
        if close is not None:
            close()


class WorkerPool:
    """Runs ``worker.method(*args)`` tasks on ``workers`` workers of one kind.

    Args:
        factory: builds a worker (module-level, picklable for the process and Ray kinds).
        factory_args: its arguments (picklable).
        workers: tasks at once (processes or actors; the local kind runs one at a time).
        ray_address: None for local or process workers, ``"local"`` to start Ray here, or a cluster
            address: then the workers are Ray actors.

    Raises:
        PoolError: Ray was asked for and is not installed.
        ValueError: ``workers`` < 1.
    """

    def __init__(self, factory: Callable[..., Any], factory_args: tuple = (), *, workers: int = 1,
                 ray_address: Optional[str] = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.kind = "ray" if ray_address else ("process" if workers > 1 else "local")
        self.workers = workers
        self._backlog: collections.deque[tuple[cf.Future, str, tuple]] = collections.deque()
        self._closed = False
        self._local: Any = None
        self._executor: Optional[cf.ProcessPoolExecutor] = None
        self._ray: Any = None
        self._started_ray = False
        self._free: list[Any] = []
        self._actors: list[Any] = []
        self._busy: dict[Any, tuple[Any, cf.Future]] = {}
        if self.kind == "local":
            self._local = factory(*factory_args)
        elif self.kind == "process":
            self._executor = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_init_process, initargs=(factory, factory_args))
        else:
            self._start_ray(str(ray_address), factory, factory_args)

    def _start_ray(self, address: str, factory: Callable[..., Any], factory_args: tuple) -> None:
        try:
            import ray
        except ImportError:
            raise PoolError("Ray workers need the ray package: pip install 'plytree[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            root = str(Path(__file__).resolve().parents[1])  # the workers import this checkout
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, configure_logging=False,
                     runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}},
                     num_cpus=self.workers if address == "local" else None)
            self._started_ray = True
        actor: Any = ray.remote(num_cpus=1)(_Actor)
        self._actors = [actor.remote(factory, factory_args) for _ in range(self.workers)]
        self._free = list(self._actors)

    # -- tasks ------------------------------------------------------------------------------------
    def submit(self, method: str, *args: Any) -> cf.Future:
        """Queues ``worker.method(*args)``; its future is done once a ``wait`` has seen it finish.

        A task given to a process pool whose worker has died fails through its future with
        ``BrokenProcessPool`` (``is_worker_loss``), as the running tasks do.

        Raises:
            PoolError: the pool is closed.
        """
        if self._closed:
            raise PoolError("the pool is closed")
        future: cf.Future = cf.Future()
        if self.kind == "process":
            assert self._executor is not None
            try:
                inner = self._executor.submit(_call_in_process, method, args)
            except BrokenProcessPool as exc:
                # a worker died since the last wait: this task fails through its future like the
                # tasks that were running, so the caller sees every worker loss in one place
                future.set_exception(exc)
                return future
            inner.add_done_callback(lambda f: _copy_outcome(f, future))
        else:
            self._backlog.append((future, method, args))
            self._dispatch()
        return future

    def _dispatch(self) -> None:
        while self.kind == "ray" and self._free and self._backlog:
            future, method, args = self._backlog.popleft()
            actor = self._free.pop()
            self._busy[actor.call.remote(method, args)] = (actor, future)

    def wait(self, futures: Iterable[cf.Future], timeout: Optional[float] = None) -> tuple[set[cf.Future], set[cf.Future]]:
        """Waits until at least one of ``futures`` is done (or ``timeout`` seconds pass).

        Returns:
            (done, not done) among ``futures``.
        """
        futures = set(futures)
        if futures and not any(f.done() for f in futures):
            if self.kind == "local":
                self._run_one_local()
            elif self.kind == "process":
                cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
            else:
                self._wait_ray(timeout)
        done = {f for f in futures if f.done()}
        return done, futures - done

    def _run_one_local(self) -> None:
        while self._backlog:
            future, method, args = self._backlog.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(getattr(self._local, method)(*args))
            except BaseException as exc:  # handed to the caller through the future
                future.set_exception(exc)
            return

    def _wait_ray(self, timeout: Optional[float]) -> None:
        if not self._busy:
            return
        ready, _ = self._ray.wait(list(self._busy), num_returns=1, timeout=timeout)
        for ref in ready:
            actor, future = self._busy.pop(ref)
            try:
                future.set_result(self._ray.get(ref))
            except Exception as exc:  # an error in the task, or the actor died (is_worker_loss)
                future.set_exception(exc)
            error = future.exception()
            if error is None or not is_worker_loss(error):  # a dead actor takes no more tasks
                self._free.append(actor)
        self._dispatch()

    def close(self) -> None:
        """Ends the workers; queued tasks are cancelled. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for future, _, _ in self._backlog:
            future.cancel()
        self._backlog.clear()
        if self._local is not None:
            close = getattr(self._local, "close", None)
            if close is not None:
                close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self._ray is not None:
            for actor in self._actors:
                self._ray.kill(actor)
            if self._started_ray:  # a local instance we started goes with us; a cluster we joined stays
                self._ray.shutdown()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _copy_outcome(source: cf.Future, target: cf.Future) -> None:
    if source.cancelled():
        target.cancel()
        return
    if not target.set_running_or_notify_cancel():
        return
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())
