"""A real ``python -m engine.cli uci`` process over binary pipes, for the UCI regression and fuzz tests.

A reader thread collects stdout lines; stdin takes text or raw bytes (so that invalid UTF-8 can be
sent); stderr goes to a file so that a chatty engine never blocks on a full pipe.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

REPO = Path(__file__).resolve().parents[1]
ENGINE_CMD = [sys.executable, "-m", "engine.cli", "uci"]


class EngineDied(AssertionError):
    """The engine process ended or stopped answering."""


class EngineProcess:
    """One engine process.

    Args:
        extra_args: arguments after ``plytree uci`` (``--search mcts``).
    """

    def __init__(self, extra_args: Sequence[str] = ()) -> None:
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(ENGINE_CMD + list(extra_args), cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0)
        self.lines: list[str] = []
        self.undecodable: list[bytes] = []
        self._cv = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, name="uci-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                self.undecodable.append(raw)
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._cv:
                self.lines.append(line)
                self._cv.notify_all()
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    # ------------------------------------------------------------------ input
    def send(self, *lines: Union[str, bytes]) -> None:
        """Writes lines (a newline is added to each)."""
        assert self.proc.stdin is not None
        data = b"".join((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n" for line in lines)
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise EngineDied(f"engine stdin closed (rc {self.proc.poll()}): {self.stderr_tail()}") from exc

    # ------------------------------------------------------------------ output
    def wait_for(self, test: Union[str, Callable[[str], bool]], timeout: float, start: int = 0) -> int:
        """The index of the first line from ``start`` that starts with ``test`` (or satisfies it)."""
        check = (lambda line: line.startswith(test)) if isinstance(test, str) else test
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for i in range(start, len(self.lines)):
                    if check(self.lines[i]):
                        return i
                start = max(start, len(self.lines))
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "ended" if self._eof else f"gave nothing within {timeout} s"
                    if not self._eof:
                        self._cv.release()
                        try:
                            self.dump_stacks()
                        finally:
                            self._cv.acquire()
                    raise EngineDied(f"waiting for {test!r}: engine {why} (rc {self.proc.poll()}); "
                                     f"last lines {self.lines[-8:]}; stderr {self.stderr_tail(6000)}")
                self._cv.wait(min(left, 0.5))

    def wait_count(self, prefix: str, count: int, timeout: float) -> None:
        """Waits until ``count`` lines starting with ``prefix`` have come."""
        seen = [0, 0]  # lines checked, matches among them

        def enough(line: str) -> bool:
            seen[1] += line.startswith(prefix)
            return seen[1] >= count

        if count > 0:
            self.wait_for(enough, timeout)

    def count(self, prefix: str) -> int:
        with self._cv:
            return sum(line.startswith(prefix) for line in self.lines)

    def sync(self, timeout: float = 10.0) -> float:
        """Sends ``isready`` and waits for its ``readyok``; returns the seconds it took."""
        start = len(self.lines)
        t0 = time.monotonic()
        self.send("isready")
        self.wait_for("readyok", timeout, start)
        return time.monotonic() - t0

    def dump_stacks(self) -> None:
        """Asks a stuck engine for its threads' stacks (``SIGUSR1``: engine/uci.py's faulthandler);
        they land in stderr, which the failure message quotes."""
        if self.proc.poll() is None and hasattr(signal, "SIGUSR1"):
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)

    def stderr_tail(self, chars: int = 2000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-chars:]

    # ------------------------------------------------------------------ end
    def quit(self, timeout: float = 10.0) -> int:
        """Sends ``quit`` and returns the exit status (raises EngineDied if it does not exit)."""
        try:
            self.send("quit")
        except EngineDied:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise EngineDied(f"no exit within {timeout} s after quit") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()

    def __enter__(self) -> "EngineProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def only_uci(line: str) -> bool:
    """Whether ``line`` is one an engine may write under UCI (id, option, uciok, readyok, info, bestmove)."""
    head = line.split(" ", 1)[0]
    if head in ("uciok", "readyok"):
        return line == head
    return head in ("id", "option", "info", "bestmove") and line.isprintable() and line.isascii()
