"""The Makefile runs every notebook under the pinned CPU kernels (see the comment at its top)."""
import platform
import re
import subprocess
from pathlib import Path

import pytest

from mixupbook.notebook import PINNED_KERNELS, PINNED_THREADS, kernel_note

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["test-notebooks", "execute", "audit-seeds"]


def _commands(target: str, **env) -> list[str]:
    out = subprocess.run(["make", "-n", "-W", "pyproject.toml", "-o", ".venv/.installed", target], cwd=ROOT,
                         capture_output=True, text=True, check=True, env={**_base_env(), **env}).stdout
    return [line for line in out.splitlines() if re.search(r"bin/(pytest --nbval|papermill|python -m mixupbook.audit)", line)]


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


def test_outputs_are_compared_exactly_on_x86_only():
    (line,) = [x for x in _commands("test-notebooks") if "--nbval" in x]
    lax = "--nbval-lax" in line
    assert lax == (platform.machine() != "x86_64")


def test_kernel_note():
    pinned = {**PINNED_KERNELS, **PINNED_THREADS}
    assert kernel_note(pinned, "x86_64", "AVX2") is None
    note = kernel_note({**pinned, "MKL_CBWR": "AUTO"}, "x86_64", "AVX2")
    assert "MKL_CBWR" in note and "ATEN_CPU_CAPABILITY=avx2" in note
    assert "AVX512" in kernel_note(pinned, "x86_64", "AVX512")
    assert "aarch64" in kernel_note(pinned, "aarch64", "DEFAULT")
