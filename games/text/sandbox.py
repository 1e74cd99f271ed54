"""Runs untrusted Python (a model's code) in a child process under limits.

Each run gets a fresh temporary directory (its working directory and ``HOME``, deleted afterwards), an
empty environment apart from ``PATH`` and ``PYTHONHASHSEED``, and these limits:

- **time**: a wall-clock timeout; the whole process group is killed when it passes.
- **CPU**: ``RLIMIT_CPU`` (seconds of CPU time; the kernel sends SIGXCPU, then SIGKILL).
- **memory**: ``RLIMIT_AS`` (address space), so a large allocation fails with ``MemoryError``.
- **files and processes**: ``RLIMIT_FSIZE`` (bytes a file may grow to) and ``RLIMIT_NPROC`` is left
  alone (it counts the user's processes machine-wide).
- **network**: the child runs in a new, empty network namespace (``unshare -rn``) when the machine
  allows unprivileged user namespaces; in every case a Python audit hook installed before the
  untrusted code runs refuses ``socket.*`` events (socket creation, connect, bind, getaddrinfo), so
  the code sees ``PermissionError`` on any network use. An audit hook cannot be removed from Python;
  native code (ctypes) could still reach the kernel, which the namespace, where present, stops.

The untrusted code runs with ``python -I`` (isolated: no user site, no ``PYTHON*`` variables, no
current directory on ``sys.path``). This is a guard against accidents of generated code (infinite
loops, runaway memory, stray downloads), not a security boundary against an attacker.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

# refuses every network audit event; runs before the untrusted code, in the same interpreter
NETWORK_GUARD = '''\
import sys as _sys
def _plytree_no_network(event, args):
    if event.startswith("socket.") :
        raise PermissionError("network access is disabled in the plytree sandbox (" + event + ")")
_sys.addaudithook(_plytree_no_network)
del _sys, _plytree_no_network
'''


class SandboxError(RuntimeError):
    """The sandbox itself failed (the interpreter could not be started)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one run.

    Attributes:
        time: wall-clock seconds.
        cpu: CPU seconds (``RLIMIT_CPU``).
        memory_mb: address space in MiB (``RLIMIT_AS``).
        file_mb: largest file the code may write, MiB (``RLIMIT_FSIZE``).
        network: allow network access (False: namespace where possible, plus the audit hook).
        output_chars: characters of stdout and stderr kept.
    """

    time: float = 10.0
    cpu: int = 10
    memory_mb: int = 512
    file_mb: int = 16
    network: bool = False
    output_chars: int = 20_000

    def __post_init__(self) -> None:
        if self.time <= 0 or self.cpu < 1 or self.memory_mb < 32 or self.file_mb < 1 or self.output_chars < 0:
            raise ValueError(f"bad sandbox limits: {self}")


@dataclass(frozen=True)
class SandboxResult:
    """What a run did.

    Attributes:
        returncode: the child's exit status (negative: killed by that signal).
        stdout, stderr: its output (truncated to ``output_chars``).
        timed_out: the wall-clock limit killed it.
        seconds: wall time.
        isolated_network: the child ran in an empty network namespace.
    """

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    isolated_network: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def reason(self) -> str:
        """Why the run failed, in a word or two ("" when it did not)."""
        if self.timed_out:
            return "time limit"
        if self.returncode == -signal.SIGXCPU or self.returncode == -signal.SIGKILL:
            return "cpu limit or killed"
        if "MemoryError" in self.stderr:
            return "memory limit"
        if "network access is disabled" in self.stderr + self.stdout:
            return "network refused"
        return "" if self.returncode == 0 else f"exit status {self.returncode}"


@functools.lru_cache(maxsize=1)
def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` can start a process here (unprivileged user namespaces)."""
    exe = shutil.which("unshare")
    if exe is None:
        return False
    try:
        return subprocess.run([exe, "-rn", sys.executable, "-c", "pass"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _set_limits(limits: SandboxLimits) -> None:  # runs in the child between fork and exec
    import resource

    os.setsid()
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu, limits.cpu + 1))
    size = limits.file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_python(code: str, limits: SandboxLimits | None = None, *, files: dict[str, str] | None = None) -> SandboxResult:
    """Runs ``code`` as a script in a fresh interpreter under ``limits``.

    Args:
        code: Python source (run as ``main.py`` in the temporary directory).
        limits: see ``SandboxLimits`` (defaults when None).
        files: more files to write into the directory first (name -> text).

    Returns:
        The run's exit status, output and how it ended; a limit hit is a result, not an exception.

    Raises:
        SandboxError: the interpreter could not be started.
    """
    limits = limits or SandboxLimits()
    workdir = tempfile.mkdtemp(prefix="plytree-sandbox-")
    try:
        main = os.path.join(workdir, "main.py")
        guard = "" if limits.network else NETWORK_GUARD
        with open(main, "w", encoding="utf-8") as f:
            f.write(guard + code)
        for name, text in (files or {}).items():
            if os.path.basename(name) != name or name in ("main.py", ""):
                raise ValueError(f"sandbox file names must be plain names other than main.py, got {name!r}")
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
                f.write(text)
        cmd = [sys.executable, "-I", "main.py"]
        isolated = not limits.network and network_namespace_available()
        if isolated:
            cmd = [shutil.which("unshare") or "unshare", "-rn"] + cmd
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0", "HOME": workdir,
               "TMPDIR": workdir, "LANG": "C.UTF-8"}
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, preexec_fn=functools.partial(_set_limits, limits))
        except OSError as exc:
            raise SandboxError(f"could not start the sandboxed interpreter: {exc}") from exc
        timed_out = False
        try:
            out, err = proc.communicate(timeout=limits.time)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
        seconds = time.monotonic() - t0
        keep = limits.output_chars
        return SandboxResult(proc.returncode, out.decode(errors="replace")[-keep:] if keep else "",
                             err.decode(errors="replace")[-keep:] if keep else "", timed_out, seconds, isolated)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
