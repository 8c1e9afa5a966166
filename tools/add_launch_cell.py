"""Give every notebook a first code cell that installs the book's library where it is missing.

    python tools/add_launch_cell.py [NOTEBOOK.ipynb ...]     # default: notebooks/*/[0-9]*.ipynb
    python tools/add_launch_cell.py --check                  # exit 1 if a notebook lacks the current cell

A notebook opened from the book's launch buttons (Colab, Binder) runs without this repository's
``pip install -e .``: Colab has no ``mixupbook`` at all. The cell, tagged ``launch-install``, does
nothing when ``import mixupbook`` works (``make``, nbval, papermill, Binder after ``postBuild``) and
otherwise pip-installs the package from the repository named in ``_config.yml``
(``repository.url`` at ``repository.branch``: the one setting the launch buttons use too).

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


def cell_source(url: str, branch: str) -> str:
    spec = f"mixupbook @ git+{url}@{branch}"
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--check", action="store_true", help="report notebooks without the current cell; change nothing")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*/[0-9]*.ipynb"))
    source = cell_source(*repository())
    if args.check:
        missing = [p for p in paths if not has_current_cell(p, source)]
        for p in missing:
            print(f"{p}: no current {TAG} cell (run tools/add_launch_cell.py)")
        return 1 if missing else 0
    for p in paths:
        changed = add_to_ipynb(p, source)
        twin = p.with_suffix(".md")
        if twin.exists():
            changed |= add_to_md(twin, source)
        print(f"{p}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
