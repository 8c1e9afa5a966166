"""Format the notebooks' code cells to 88 columns and make boilerplate cells collapsible.

``python tools/format_notebooks.py [NOTEBOOK.ipynb ...]`` (default: every book notebook) runs
black (line length 88) over each code cell, tags with ``hide-input`` the cells a reader can skip
(only imports, or longer than ``LONG`` lines; the page shows a "Show code cell source" toggle and
every output), writes the ``.ipynb`` with its outputs kept, and rewrites its jupytext ``.md`` twin.
``--check`` writes nothing and exits 1 naming each notebook that would change or keeps a line over
88 characters (black does not split long strings: split them by hand). ``tests/test_notebook_style.py``
runs the check. The generated launch-install cell (tools/add_launch_cell.py) is left as it is.
"""
from __future__ import annotations

import argparse
import ast
import io
import sys
import textwrap
import tokenize
from pathlib import Path

import black
import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 88
LONG = 30          # a cell of more lines than this is collapsed behind a toggle
HIDE = "hide-input"
SKIP = {"launch-install", "parameters"}   # generated cell; the parameters cell stays in view (papermill -p)


def is_boilerplate(source: str) -> bool:
    """Whether a cell only imports (and maybe silences warnings): nothing a reader needs to see."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(s, (ast.Import, ast.ImportFrom)) or
                              (isinstance(s, ast.Expr) and "warnings" in ast.unparse(s)) for s in body)


def wrap_comments(src: str) -> str:
    """Wrap each comment on a line over WIDTH; a trailing one moves above its line."""
    lines = src.split("\n")
    comments = [t for t in tokenize.generate_tokens(io.StringIO(src).readline)
                if t.type == tokenize.COMMENT and len(lines[t.start[0] - 1]) > WIDTH]
    for tok in reversed(comments):
        row, col = tok.start[0] - 1, tok.start[1]
        line = lines[row]
        indent = line[: len(line) - len(line.lstrip())]
        text = tok.string.lstrip("#").strip()
        code = line[:col].rstrip()
        slack = 8 if code else 0   # a moved comment may be indented one level deeper by black
        wrapped = [indent + "# " + part for part in textwrap.wrap(text, WIDTH - len(indent) - 2 - slack)]
        lines[row:row + 1] = wrapped + ([code] if code else [])
    return "\n".join(lines)


def wrap_docstrings(src: str) -> str:
    """Re-wrap each docstring that has a line over WIDTH, paragraph by paragraph."""
    lines = src.split("\n")
    nodes = [n for n in ast.walk(ast.parse(src))
             if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Module)) and ast.get_docstring(n, clean=False)]
    docs = sorted((n.body[0] for n in nodes), key=lambda d: -d.lineno)
    for doc in docs:
        first, last = doc.lineno - 1, doc.end_lineno - 1
        if all(len(line) <= WIDTH for line in lines[first:last + 1]):
            continue
        indent = " " * doc.col_offset
        paras = [" ".join(p.split()) for p in ast.get_docstring(doc_holder(doc)).split("\n\n")]
        body = []
        for k, para in enumerate(paras):
            body += ([""] if k else []) + textwrap.wrap(para, WIDTH - len(indent) - (6 if not k else 0))
        text = [indent + '"""' + body[0]] + [indent + b if b else "" for b in body[1:]]
        lines[first:last + 1] = text + [indent + '"""'] if len(text) > 1 else [text[0] + '"""']
    return "\n".join(lines)


def doc_holder(expr):
    holder = ast.Module(body=[expr], type_ignores=[])
    return holder


def format_cell(cell) -> tuple[str, list[str]]:
    """The formatted source and tags of one code cell."""
    tags = list(cell.metadata.get("tags", []))
    if SKIP & set(tags):
        return cell.source, tags
    mode = black.Mode(line_length=WIDTH, unstable=True)   # unstable: long strings are split too
    src = black.format_str(cell.source, mode=mode)
    for _ in range(4):   # black re-indents a moved comment: wrap again until nothing changes
        src, before = black.format_str(wrap_docstrings(wrap_comments(src)), mode=mode), src
        if src == before:
            break
    src = src.rstrip("\n")
    if (is_boilerplate(src) or src.count("\n") + 1 > LONG) and HIDE not in tags:
        tags.append(HIDE)
    return src, tags


def format_notebook(path: Path, write: bool = True) -> list[str]:
    """Format one notebook; return its problems (would change, lines too long)."""
    nb = nbformat.read(path, as_version=4)
    problems, changed = [], False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        src, tags = format_cell(cell)
        if src != cell.source or tags != list(cell.metadata.get("tags", [])):
            changed = True
            cell.source = src
            cell.metadata["tags"] = tags
        if SKIP & set(tags):
            continue
        problems += [f"{path.relative_to(ROOT)}: cell {i}: line of {len(line)} characters: {line.strip()[:50]}..."
                     for line in src.splitlines() if len(line) > WIDTH]
    if changed and not write:
        problems.insert(0, f"{path.relative_to(ROOT)}: not formatted (run python tools/format_notebooks.py {path.relative_to(ROOT)})")
    if changed and write:
        nbformat.write(nb, path)
        jupytext.write(nb, path.with_suffix(".md"), fmt="md:myst")
    return problems


def notebooks() -> list[Path]:
    return sorted(ROOT.glob("notebooks/*/[0-9]*.ipynb"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything would change")
    args = ap.parse_args(argv)
    problems = [p for nb in (args.notebooks and [n.resolve() for n in args.notebooks] or notebooks())
                for p in format_notebook(nb, write=not args.check)]
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
