"""Code repair as a text environment: a small buggy Python function and its unit tests.

An action is a whole-function rewrite (the model's answer, a ```python block or bare code that
defines the function). Applying it runs the task's tests on the new code in the sandbox
(``games.text.sandbox``: time, CPU and memory limits, no network, a temporary directory); the state
keeps the code, how many tests passed and the failures, which the next prompt shows (the feedback of
SWE-style agents). The episode ends when every test passes or after ``max_attempts`` rewrites; the
reward is the fraction of tests passed, so 1.0 means repaired.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from games.text._protocol import InvalidActionError, TaskError, load_json_state
from games.text.sandbox import SandboxLimits, run_python

SYSTEM = "You are a careful Python programmer. Answer with code only."
_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", re.S)

_HARNESS = '''
import json as _json, traceback as _tb
_results = {{"passed": 0, "total": 0, "failures": []}}
for _name, _fn in list(globals().items()):
    if _name.startswith("test_") and callable(_fn):
        _results["total"] += 1
        try:
            _fn()
            _results["passed"] += 1
        except Exception as _exc:
            _results["failures"].append(_name + ": " + type(_exc).__name__ + ": " + str(_exc)[:200])
print("{marker}" + _json.dumps(_results))
'''


@dataclass(frozen=True)
class CodeState:
    """The current code and what its test run said.

    Attributes:
        code: the function's source.
        passed, total: tests passed and run.
        feedback: a short text of failures (or the sandbox's reason: time limit, memory limit, ...).
        attempts: rewrites made so far.
    """

    code: str
    passed: int
    total: int
    feedback: str
    attempts: int = 0


class CodeRepair:
    """One repair task.

    Args:
        function: the function's name.
        code: its buggy source.
        tests: test functions (``def test_...(): assert ...``), run after the code in one script.
        description: what the function should do.
        task_id: the task's name.
        max_attempts: rewrites before the episode ends.
        limits: the sandbox limits of one test run.

    Raises:
        TaskError: the code or tests do not parse, or the code does not define ``function``.
    """

    name = "code_repair"
    system_prompt = SYSTEM
    solve_threshold = 1.0

    def __init__(self, function: str, code: str, tests: str, *, description: str = "", task_id: str | None = None,
                 max_attempts: int = 3, limits: SandboxLimits | None = None) -> None:
        self.function = function
        self.tests = tests
        self.description = description
        self.task_id = task_id or function
        self.max_attempts = max_attempts
        self.limits = limits or SandboxLimits(time=10.0, cpu=5, memory_mb=512)
        self._runs: dict[str, tuple[int, int, str]] = {}
        try:
            ast.parse(tests)
        except SyntaxError as exc:
            raise TaskError(f"task {self.task_id}: the tests do not parse: {exc}") from exc
        self.start_code = self._checked(code)

    @classmethod
    def from_task(cls, task: dict, **options) -> "CodeRepair":
        """From ``{"id":, "function":, "code":, "tests":, "description":}``."""
        try:
            return cls(str(task["function"]), str(task["code"]), str(task["tests"]),
                       description=str(task.get("description", "")), task_id=str(task.get("id") or ""), **options)
        except KeyError as exc:
            raise TaskError(f"a code_repair task needs 'function', 'code' and 'tests': missing {exc}") from exc

    def _checked(self, code: str) -> str:
        code = code.strip("\n") + "\n"
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            raise InvalidActionError(f"the code does not parse: {exc.msg} (line {exc.lineno})") from exc
        if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == self.function
                   for n in tree.body):
            raise InvalidActionError(f"the code does not define {self.function}()")
        return code

    def run_tests(self, code: str) -> tuple[int, int, str]:
        """Runs the tests on ``code`` in the sandbox: (passed, total, feedback); cached per code."""
        key = hashlib.sha256(code.encode()).hexdigest()
        if key not in self._runs:
            marker = f"__PLYTREE_RESULT_{secrets.token_hex(8)}__"
            result = run_python(code + "\n" + self.tests + "\n" + _HARNESS.format(marker=marker), self.limits)
            total = self.tests.count("def test_")
            line = next((ln for ln in result.stdout.splitlines() if ln.startswith(marker)), None)
            if line is None or result.timed_out:
                why = result.reason or "no test report"
                tail = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
                self._runs[key] = (0, total, f"the run failed ({why}){': ' + tail[0][:200] if tail else ''}")
            else:
                data = json.loads(line[len(marker):])
                fails = data["failures"]
                text = "all tests pass" if not fails else "; ".join(fails[:3])
                self._runs[key] = (int(data["passed"]), int(data["total"]), text)
        return self._runs[key]

    def initial(self) -> CodeState:
        passed, total, feedback = self.run_tests(self.start_code)
        return CodeState(self.start_code, passed, total, feedback)

    def enumerate_actions(self, state: CodeState) -> None:
        return None

    def parse_action(self, state: CodeState, text: str) -> str:
        m = _FENCE.search(text or "")
        code = m.group(1) if m else (text or "")
        start = code.find(f"def {self.function}")
        if start < 0:
            raise InvalidActionError(f"no definition of {self.function}() in the answer")
        # keep imports written above the function
        head = "\n".join(ln for ln in code[:start].splitlines() if ln.startswith(("import ", "from ")))
        return self._checked((head + "\n" if head else "") + code[start:])

    def apply(self, state: CodeState, action: str) -> CodeState:
        code = self.parse_action(state, action)
        passed, total, feedback = self.run_tests(code)
        return CodeState(code, passed, total, feedback, state.attempts + 1)

    def is_terminal(self, state: CodeState) -> bool:
        return (state.total > 0 and state.passed == state.total) or state.attempts >= self.max_attempts

    def reward(self, state: CodeState) -> float:
        return state.passed / state.total if state.total else 0.0

    def is_solved(self, state: CodeState) -> bool:
        return state.total > 0 and state.passed == state.total

    def to_text(self, state: CodeState) -> str:
        return f"{state.code}# tests: {state.passed}/{state.total} passed; {state.feedback}\n"

    def describe(self, state: CodeState) -> str:
        return (f"Fix the bug in this Python function. {self.description}\n"
                f"```python\n{state.code}```\n"
                f"Test results: {state.passed}/{state.total} passed. {state.feedback}\n"
                f"Write the whole corrected function {self.function} in a ```python block.")

    def value_question(self, state: CodeState) -> str:
        return (f"Task: {self.description}\n```python\n{state.code}```\n"
                f"Test results: {state.passed}/{state.total} passed. {state.feedback}\n"
                "How close is this code to a correct solution? Rate from 1 (wrong) to 100 (correct).")

    def judge_question(self, state: CodeState) -> None:
        return None

    def answer(self, state: CodeState) -> str:
        return state.code

    def key(self, state: CodeState) -> str:
        return state.code

    def serialize(self, state: CodeState) -> str:
        return json.dumps({"code": state.code, "passed": state.passed, "total": state.total,
                           "feedback": state.feedback, "attempts": state.attempts})

    def deserialize(self, text: str) -> CodeState:
        d = load_json_state(text, ("code", "passed", "total", "feedback", "attempts"))
        return CodeState(str(d["code"]), int(d["passed"]), int(d["total"]), str(d["feedback"]), int(d["attempts"]))
