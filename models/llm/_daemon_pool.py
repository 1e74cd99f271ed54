"""A thread pool of daemon threads, for calls that may hang on a model server.

``concurrent.futures.ThreadPoolExecutor`` joins its workers when the interpreter exits, so a request
waiting on a hung server holds the process up until the request times out (and again for each
retry). A search that gave up on such a call has already answered with its fallback: the call's
thread must not keep the process alive, so these workers are daemon threads.
"""
from __future__ import annotations

import concurrent.futures as cf
import queue
import threading
from collections.abc import Callable
from typing import Any


class PoolClosedError(RuntimeError):
    """A call was submitted to a pool that was shut down."""


class DaemonPool:
    """At most ``max_workers`` daemon threads running submitted calls in order.

    Args:
        max_workers: threads at most (started when the calls in flight need them).
        name: thread name prefix.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers
        self.name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future:
        """Runs ``fn(*args, **kwargs)`` in a worker; the future holds its result or exception.

        Raises:
            PoolClosedError: the pool was shut down.
        """
        future: cf.Future = cf.Future()
        with self._lock:
            if self._closed:
                raise PoolClosedError(f"{self.name}: the pool is shut down")
            self._queue.put((future, fn, args, kwargs))
            # a new worker when the waiting calls outnumber the idle workers (a race only costs a spare thread)
            if self._queue.qsize() > self._idle and len(self._threads) < self.max_workers:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
            if item is None:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to the caller through the future
                    future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancels the calls not yet started and lets the workers end; does not wait for running calls."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
            for _ in self._threads:
                self._queue.put(None)
