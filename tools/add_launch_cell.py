"""Give every notebook a first code cell that installs the book's library where it is missing.

    python tools/add_launch_cell.py [NOTEBOOK.ipynb ...]     # default: notebooks/*/[0-9]*.ipynb
    python tools/add_launch_cell.py --ref v0.2.0             # pin a tag (default: the commit, see below)
    python tools/add_launch_cell.py --check                  # exit 1 if a notebook lacks the current cell

A notebook opened from the book's launch buttons (Colab, Binder) runs without this repository's
``pip install -e .``: Colab has no ``mixupbook`` at all. The cell, tagged ``launch-install``, does
nothing when ``import mixupbook`` works (``make``, nbval, papermill, Binder after ``postBuild``) and
otherwise pip-installs the package from the repository named in ``_config.yml`` (``repository.url``,
the one setting the launch buttons use too) at a pinned ref: the tag of the commit the book is
built from when it has one, else that commit's hash (``--ref`` pins another), never a branch,
whose library moves on after the book was built. The library (``src/``, ``pyproject.toml``) must
be committed first: the tool refuses to pin a commit whose library differs from the working tree,
and ``--check`` reports a cell whose pinned ref no longer holds the working tree's library. So:
commit the library, run this tool, commit its cells (they change nothing else).

It goes right before the first code cell (the ``parameters`` cell stays the first cell papermill
sees; a ``launch-install`` cell may precede it), in the ``.ipynb`` and in its MyST ``.md`` twin,
with no outputs. It is also tagged ``remove-cell``: the HTML book does not show it. Running the
tool again replaces the cell (after a change of the repository URL) and adds no second one.
``mixupbook.claims.source_hash`` skips the cell, so adding it leaves the seed audits current.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "launch-install"
TAGS = [TAG, "remove-cell"]


def repository(config: Path = ROOT / "_config.yml") -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, as ``_config.yml`` states it."""
    repo = (yaml.safe_load(config.read_text()) or {}).get("repository") or {}
    url = str(repo.get("url") or "").rstrip("/")
    if not url.startswith("https://"):
        raise SystemExit(f"{config}: repository.url must be an https URL, got {url!r}")
    return url, str(repo.get("branch") or "main")


LIBRARY = ("src", "pyproject.toml")   # what the launch cell installs: must be the same at the pinned ref


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def library_matches(ref: str) -> bool:
    """Whether the library at ``ref`` is the working tree's (no change under ``LIBRARY``, untracked included)."""
    same = _git("diff", "--quiet", ref, "--", *LIBRARY).returncode == 0
    untracked = _git("ls-files", "--others", "--exclude-standard", "--", *LIBRARY).stdout.strip()
    return same and not untracked


def pinned_ref(ref: str | None = None) -> str:
    """The ref the launch cell installs: ``ref`` if given, else HEAD's tag (if it has one) or its
    commit hash; ``SystemExit`` when that ref does not hold the working tree's library."""
    explicit = ref is not None
    if ref is None:
        head = _git("rev-parse", "HEAD")
        if head.returncode:
            raise SystemExit(f"not a git checkout ({head.stderr.strip()}): pass --ref TAG_OR_COMMIT")
        tag = _git("describe", "--tags", "--exact-match", "HEAD").stdout.strip()
        ref = tag or head.stdout.strip()
    elif _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode:
        raise SystemExit(f"--ref: {ref!r} is not a tag or commit of this repository")
    if _git("rev-parse", "--verify", "--quiet", f"refs/heads/{ref}").returncode == 0:
        raise SystemExit(f"--ref: {ref!r} is a branch, which moves on after the book is built: pin a tag or a commit")
    if not library_matches(ref):
        why = (f"the library ({', '.join(LIBRARY)}) has changes not in {ref}: commit them first, then run this tool, "
               "so the cell installs the library the notebooks were run with")
        if explicit:
            print(f"warning: {why}", file=sys.stderr)
        else:
            raise SystemExit(f"{why} (or pin a ref with --ref)")
    return ref


def cell_source(url: str, ref: str) -> str:
    spec = f"mixupbook @ git+{url}@{ref}"
    return (
        "# Launched on Colab or Binder without the book's library? Install it (nothing happens where it imports).\n"
        "try:\n"
        "    import mixupbook  # noqa: F401\n"
        "except ImportError:\n"
        "    import importlib, subprocess, sys\n"
        f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"{spec}\"], check=True)\n"
        "    importlib.invalidate_caches()"
    )


def _is_launch(cell: dict) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


def add_to_ipynb(path: Path, source: str) -> bool:
    """Insert or refresh the cell in ``path``; True when the file changed."""
    text = path.read_text()
    nb = json.loads(text)
    cells = [c for c in nb["cells"] if not _is_launch(c)]
    cell = {"cell_type": "code", "execution_count": None, "id": "launch-install",
            "metadata": {"tags": list(TAGS)}, "outputs": [], "source": source.splitlines(keepends=True)}
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) < 5:
        del cell["id"]
    first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    cells.insert(first_code, cell)
    nb["cells"] = cells
    # nbformat's own layout (sorted keys, indent 1), with the file's trailing newline or none
    new = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + ("\n" if text.endswith("\n") else "")
    if new != text:
        path.write_text(new)
        return True
    return False


def _md_block(source: str) -> str:
    return "```{code-cell} ipython3\n:tags: [" + ", ".join(TAGS) + "]\n\n" + source + "\n```\n\n"


def add_to_md(path: Path, source: str) -> bool:
    """The same cell in the MyST twin: a text edit, so the rest of the file is left byte for byte."""
    text = path.read_text()
    # drop an existing launch cell (its header names the tag), with the blank line after it
    text_wo = re.sub(r"```\{code-cell\}[^\n]*\n:tags: \[[^\]]*" + TAG + r"[^\]]*\]\n\n.*?\n```\n\n?", "",
                     text, count=1, flags=re.S)
    m = re.search(r"^```\{code-cell\}", text_wo, flags=re.M)
    if not m:
        raise SystemExit(f"{path}: no code cell")
    new = text_wo[:m.start()] + _md_block(source) + text_wo[m.start():]
    if new != text:
        path.write_text(new)
        return True
    return False


def has_current_cell(path: Path, source: str) -> bool:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return bool(code) and _is_launch(code[0]) and "".join(code[0]["source"]) == source \
        and sum(map(_is_launch, nb["cells"])) == 1


def installed_ref(path: Path) -> str | None:
    """The ref a notebook's launch cell installs (``None``: no launch cell)."""
    nb = json.loads(path.read_text())
    cell = next((c for c in nb["cells"] if _is_launch(c)), None)
    m = re.search(r"mixupbook @ git\+\S+?@([^\s\"']+)", "".join(cell["source"])) if cell else None
    return m.group(1) if m else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--check", action="store_true", help="report notebooks without the current cell; change nothing")
    ap.add_argument("--ref", default=None, help="the tag or commit to install (default: HEAD's tag, else its commit)")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*/[0-9]*.ipynb"))
    url = repository()[0]
    if args.check:
        bad = []
        for p in paths:
            ref = installed_ref(p)
            if ref is None or not has_current_cell(p, cell_source(url, ref)):
                bad.append(f"{p}: no current {TAG} cell (run tools/add_launch_cell.py)")
            elif _git("rev-parse", "--verify", "--quiet", f"refs/heads/{ref}").returncode == 0 or \
                    not re.fullmatch(r"[0-9a-f]{40}", ref) and _git("rev-parse", "--verify", "--quiet",
                                                                  f"refs/tags/{ref}").returncode:
                bad.append(f"{p}: its {TAG} cell installs {ref!r}, not a pinned tag or commit (run "
                           "tools/add_launch_cell.py)")
            elif _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode or not library_matches(ref):
                bad.append(f"{p}: its {TAG} cell installs {ref}, which does not hold the working tree's library "
                           "(commit the library, then run tools/add_launch_cell.py)")
        for line in bad:
            print(line)
        return 1 if bad else 0
    source = cell_source(url, pinned_ref(args.ref))
    for p in paths:
        changed = add_to_ipynb(p, source)
        twin = p.with_suffix(".md")
        if twin.exists():
            changed |= add_to_md(twin, source)
        print(f"{p}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
