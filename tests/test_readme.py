"""The README's Python API example runs and prints what the README says it prints."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    """The first ``python`` code block under the README's "The Python API" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The Python API"):]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "no python block under '## The Python API'"
    return match.group(1)


def promised_output(code: str) -> list[str]:
    """What the example says each ``print`` prints: the comment at the end of the print's line, or
    the comment lines right below it."""
    lines = code.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        if not line.startswith("print("):
            continue
        head, sep, comment = line.partition("#")
        if sep and head.rstrip().endswith(")"):
            out.append(comment.strip())
            continue
        j = i + 1
        while j < len(lines) and lines[j].startswith("# "):
            out.append(lines[j][2:].strip())
            j += 1
        assert j > i + 1, f"README example line {line!r} does not say what it prints"
    return out


def test_promised_output_reads_both_forms():
    code = "x = 1\nprint(x)  # 1\nprint(x, x)\n# 1 1\ny = 2  # not output\n"
    assert promised_output(code) == ["1", "1 1"]


def test_readme_python_example_prints_what_it_says():
    code = readme_example()
    expected = promised_output(code)
    assert len(expected) >= 2
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected
