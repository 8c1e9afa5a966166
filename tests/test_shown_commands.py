"""Every shell command the README, CONTRIBUTING and the book's how-to pages show is run.

A command a reader copies must work as shown, so a renamed notebook or spec breaks this test
instead of the reader. Each ```bash block of SHOWN is split into commands (continuation lines
joined, comments dropped) and each command is run in its cheapest faithful form, chosen by
RULES: paper-scale papermill runs get ``-p dry_run True``, sweeps parse their options and load their
spec (tests/test_sweep.py dry-runs every spec), long make
targets ``make -n`` (the target exists and its recipe expands), commands on a placeholder
notebook (``notebooks/<key>/NN_name``) run on a copy of a real notebook in a temporary folder.
A shown command no rule knows fails the test: add a rule when you add a command.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ["README.md", "CONTRIBUTING.md", "book/intro.md", "book/scale/*.md", "book/extending/*.md"]
BIN = Path(sys.executable).parent
#: what a placeholder path in a shown command stands for when it is run
PLACEHOLDER_NOTEBOOK = "notebooks/foundations/01_mixing_and_the_mixup_loss"
PLACEHOLDER = re.compile(r"notebooks/(<key>|zhang2021)/NN_name")


#: a shown sweep command: its arguments parse and its spec loads; the spec is one of experiments/, which
#: tests/test_sweep.py dry-runs point by point (a second dry run here would only repeat it)
SWEEP_CHECK = ("import inspect, sys; from pathlib import Path; from mixupbook import sweep; "
               "sweep.load_spec(sys.argv[1]); "
               "assert Path(sys.argv[1]).resolve().parent == Path('experiments').resolve(), sys.argv[1]; "
               "options = [a for a in sys.argv[2:] if a.startswith('-')]; "
               "assert all(f'\"{o}\"' in inspect.getsource(sweep.main) for o in options), options")


def shown_blocks(text: str) -> list[str]:
    return re.findall(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    """One entry per command: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            out.append(line)
    return out


def shown_commands() -> list[tuple[str, str]]:
    found = []
    for pattern in SHOWN:
        for path in sorted(ROOT.glob(pattern)):
            for block in shown_blocks(path.read_text()):
                found += [(path.relative_to(ROOT).as_posix(), c) for c in commands(block)]
    return found


def _placeholder_copy(cmd: str, tmp: Path) -> tuple[str, Path]:
    """Point a placeholder notebook at a copy of a real one under ``tmp`` (never the repo's)."""
    for suffix in (".md", ".ipynb"):
        dest = tmp / (PLACEHOLDER_NOTEBOOK + suffix)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / (PLACEHOLDER_NOTEBOOK + suffix), dest)
    return PLACEHOLDER.sub(PLACEHOLDER_NOTEBOOK, cmd), tmp


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def cheapest(cmd: str, tmp: Path) -> tuple[list[str] | None, Path, str]:
    """(argv to run, working directory, why this form) for one shown command; argv None: no rule."""
    argv = shlex.split(os.path.expandvars(cmd.replace("$PWD", str(ROOT))))
    prog = Path(argv[0]).name
    cwd = ROOT
    if prog == "export":
        return [], cwd, "sets PATH for the block; the other commands are run with the venv's tools"
    if prog == "conda":
        return [sys.executable, "-c", "import yaml; yaml.safe_load(open('environment.yml'))"], cwd, \
            "no conda here: environment.yml must parse (tests/test_env_sync.py checks its pins)"
    if prog == "make":
        return ["make", "-n", *argv[1:]], cwd, "make -n: the target exists and its recipe expands"
    if PLACEHOLDER.search(cmd):
        cmd, cwd = _placeholder_copy(cmd, tmp)
        argv = shlex.split(cmd)
        prog = Path(argv[0]).name
    if prog == "papermill":
        out = tmp / "out.ipynb"
        args = [str(out) if a == "out.ipynb" else a for a in argv[1:]]
        if not _has_cuda():  # a dry run plans a GPU run on any machine; CPU stands in for cuda here
            args = ["cpu" if a.startswith("cuda") and args[i - 1] == "device" else a for i, a in enumerate(args)]
        argv = [str(BIN / "papermill"), *args,
                "-p", "dry_run", "True", "--cwd", str(ROOT / Path(argv[1]).parent)]
        return argv, ROOT, "papermill with -p dry_run True (plans the run and stops)"
    if prog == "jupytext":
        return [str(BIN / "jupytext"), *argv[1:]], cwd, "jupytext (on a copy when the path is a placeholder)"
    if prog in ("python", "python3") and argv[1:3] == ["-m", "mixupbook.sweep"]:
        spec = next(a for a in argv[3:] if a.endswith(".yaml"))
        return [sys.executable, "-c", SWEEP_CHECK, spec, *argv[3:]], cwd, \
            "the sweep's options parse and its spec loads (tests/test_sweep.py dry-runs every spec)"
    if prog in ("python", "python3") and len(argv) > 1 and argv[1].startswith("tools/"):
        return [sys.executable, str(ROOT / argv[1]), *argv[2:]], cwd, \
            "the book's tool (on a copy when the path is a placeholder)"
    if prog == "torchrun" and "mixupbook.run" in argv:
        return [sys.executable, "-m", "mixupbook.run", "--help"], cwd, \
            "the module torchrun launches exists and takes its options (a config is the reader's)"
    return None, cwd, "no rule"


CASES = shown_commands()
_RAN: dict = {}


def test_the_pages_show_commands():
    assert len(CASES) >= 10, CASES
    assert any("papermill" in c for _, c in CASES)


def test_every_shown_command_has_a_rule(tmp_path):
    missing = [(f, c) for f, c in CASES if cheapest(c, tmp_path)[0] is None]
    assert not missing, f"shown commands with no rule in {__file__}: {missing}"


@pytest.mark.parametrize("where,cmd", CASES, ids=[f"{f}:{c[:50]}" for f, c in CASES])
def test_shown_command_runs(where, cmd, tmp_path):
    argv, cwd, why = cheapest(cmd, tmp_path)
    if argv is None:
        pytest.fail(f"{where}: no rule for {cmd!r}")
    if not argv:
        return
    key = (tuple(argv), str(cwd))
    if key not in _RAN:  # two shown commands with one cheapest form (a sweep with/without --devices) run once
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        _RAN[key] = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    proc = _RAN[key]
    assert proc.returncode == 0, (
        f"{where}: `{cmd}` fails as shown ({why}; ran {shlex.join(argv)}):\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def test_a_renamed_notebook_fails(tmp_path):
    """The papermill rule really runs the notebook: a wrong name is an error, not a skip."""
    argv, cwd, _ = cheapest("papermill notebooks/zhang2021/no_such_notebook.ipynb out.ipynb -p scale paper",
                            tmp_path)
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
