"""The Makefile runs every notebook under the pinned CPU kernels (see the comment at its top)."""
import platform
import re
import subprocess
from pathlib import Path

import pytest

from mixupbook.notebook import PINNED_KERNELS, PINNED_THREADS

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["test-code", "test-notebooks", "test-exact", "execute", "audit-seeds"]


def _commands(target: str, **env) -> list[str]:
    out = subprocess.run(["make", "-n", "-W", "pyproject.toml", "-o", ".venv/.installed", target], cwd=ROOT,
                         capture_output=True, text=True, check=True, env={**_base_env(), **env}).stdout
    return [line for line in out.splitlines() if re.search(r"bin/(pytest .*--nbval|papermill|python -m mixupbook.audit)", line)]


def _base_env():
    import os
    return {k: v for k, v in os.environ.items() if k not in {**PINNED_KERNELS, **PINNED_THREADS}}


@pytest.mark.parametrize("target", TARGETS)
def test_every_notebook_command_runs_under_the_pin(target):
    lines = _commands(target, ATEN_CPU_CAPABILITY="avx512", MKL_CBWR="AUTO")
    assert lines, f"make -n {target} runs no notebook"
    pin = dict(PINNED_THREADS)
    if platform.machine() == "x86_64":
        pin.update(PINNED_KERNELS)
    for line in lines:
        assert line.lstrip().startswith("env ") or " env " in line, line
        for k, v in pin.items():
            assert f"{k}={v}" in line, f"{target}: {k}={v} missing from: {line}"


@pytest.mark.parametrize("target,tolerant", [("test-code", True), ("test-notebooks", True), ("test-exact", False)])
def test_outputs_are_compared_by_the_rule_except_in_exact_mode(target, tolerant):
    (line,) = _commands(target)
    assert "--nbval " in line and "--nbval-lax" not in line
    assert ("-p mixupbook.compare" in line) == tolerant
