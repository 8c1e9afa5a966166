"""Sphinx extension: the ``book-status`` and ``paper-tables`` directives.

Renders one row per notebook with its last execution (papermill's metadata stored
in the .ipynb by ``make execute``): when it ran, how long it took, and whether it
finished without error. Rows follow the chapters' order in ``_toc.yml`` and name each chapter
by its title; a summary line above the table counts them. The book is built with execution off,
so this is what the stored outputs come from; ``make test`` (nbval) re-executes them and compares.

``paper-tables KEY`` renders ``mixupbook.paper_tables.paper_table(KEY)``: each targeted
published number of paper KEY beside our paper-scale records in ``results/KEY``, or
"not yet run", laid out as the paper prints it (``paper_tables.by_setting``: per source table,
one row per setting and a column per method or swept knob). Pages using it are re-read on
every build, so new records show at once.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


class BookStatus(Directive):
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        root = Path(env.srcdir)
        order = chapter_order(root / "_toc.yml")
        titles = _chapter_titles()
        paths = sorted(root.glob("notebooks/*/[0-9]*.ipynb"),
                       key=lambda p: (order.index(p.parent.name) if p.parent.name in order else len(order),
                                      p.parent.name, p.name))
        rows, counts, seconds, chapters = [], {"ok": 0, "error": 0, "not executed": 0}, 0.0, []
        for path in paths:
            meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
            doc = path.relative_to(root).with_suffix("").as_posix()
            key = path.parent.name
            env.note_dependency(str(path))
            if meta.get("exception"):
                status, counts["error"] = "error: " + str(meta.get("exception")), counts["error"] + 1
            elif meta.get("end_time"):
                status, counts["ok"] = "ok", counts["ok"] + 1
            else:
                status, counts["not executed"] = "not executed by papermill", counts["not executed"] + 1
            seconds += meta.get("duration") or 0.0
            duration = f"{meta['duration']:.0f}" if meta.get("duration") is not None else "-"
            ran = (meta.get("end_time") or "-")[:16].replace("T", " ")
            chapter = titles.get(key, key)
            if (root / "book" / key / "index.md").exists():
                chapter = f"{{doc}}`{chapter} </book/{key}/index>`"
            if key not in chapters:
                chapters.append(key)
            rows.append([f"{{doc}}`/{doc}`", chapter, ran, duration, status])
        header = ["notebook", "chapter", "last executed (UTC)", "seconds", "result"]
        return _paragraph(self, summary_line(len(rows), len(chapters), counts, seconds)) + \
            _list_table(self, header, rows)


def summary_line(n: int, n_chapters: int, counts: dict, seconds: float) -> str:
    """One sentence over the whole table: how many notebooks, how they ended, the total run time."""
    parts = [f"{counts['ok']} finished without error"]
    if counts["error"]:
        parts.append(f"{counts['error']} stopped with an error")
    if counts["not executed"]:
        parts.append(f"{counts['not executed']} not executed by papermill")
    return (f"{n} notebooks in {n_chapters} chapters: {', '.join(parts)}; "
            f"{seconds / 60:.1f} minutes of execution in all at book scale.")


def chapter_order(toc: Path) -> list[str]:
    """Chapter keys in the order ``_toc.yml`` lists their notebooks (``notebooks/<key>/...``)."""
    import yaml

    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("file", "glob") and isinstance(v, str) and v.startswith("notebooks/"):
                    key = v.split("/")[1]
                    if key not in found:
                        found.append(key)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load(toc.read_text()) if toc.exists() else {})
    return found


def _chapter_titles() -> dict:
    from mixupbook import claims

    return {k: ch.get("title", k) for k, ch in claims.chapters().items()}


class PaperTables(Directive):
    required_arguments = 1

    def run(self):
        from mixupbook.paper_tables import NOT_RUN, by_setting, paper_table

        env = self.state.document.settings.env
        env.note_reread()
        frame = paper_table(self.arguments[0], Path(env.srcdir) / "results")
        ran = int((frame["ours"] != NOT_RUN).sum())
        summary = (f"{len(frame)} published numbers: {ran} reproduced at paper scale, "
                   f"{len(frame) - ran} not yet run. Each cell: the published number / ours (mean "
                   f"± standard deviation over our paper-scale seeds), or — where not yet run.")
        out = _paragraph(self, summary)
        for block in by_setting(frame):
            fixed = ", ".join(v if k in ("dataset", "model", "method", "metric", "source") else f"{k}: {v}"
                              for k, v in block["fixed"].items() if v)
            spread = SPREAD_NAMES.get(block["spread"])
            caption = f"**{block['source']}**" + (f" ({_code_paths(fixed)})" if fixed else "")
            if spread:
                caption += f"; columns: {spread}"
            header, rows = list(block["header"]), [list(r) for r in block["rows"]]
            if any(block["runs"]):
                header.append("run")
                rows = [r + [run] for r, run in zip(rows, block["runs"])]
            out += _paragraph(self, caption) + _list_table(self, header, [[_code_paths(c) for c in r] for r in rows])
        return out


#: How a block's caption names the column its table spreads across (methods need no name).
SPREAD_NAMES = {"alpha": "$\\alpha$", "eta": "$\\eta$", "metric": "statistic"}


#: A path in a cell (an authors' log file, a spec): long and without spaces, it would set its column's
#: least width; as code it may break anywhere (_static/book.css).
_PATH = re.compile(r"(?<![`\w/])([\w.{},-]+/[\w./{},-]+)")


def _code_paths(text: str) -> str:
    return _PATH.sub(lambda m: f"`{m.group(1)}`" if len(m.group(1)) >= 20 else m.group(1), text)


def _paragraph(directive: Directive, text: str):
    container = nodes.container()
    directive.state.nested_parse(StringList([text]), directive.content_offset, container)
    return container.children


def _list_table(directive: Directive, header: list[str], rows: list[list[str]]):
    """A table from MyST markdown (the book's pages are MyST, so nested content is parsed as MyST)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    container = nodes.container()
    directive.state.nested_parse(StringList(lines), directive.content_offset, container)
    return container.children


def setup(app):
    app.add_directive("book-status", BookStatus)
    app.add_directive("paper-tables", PaperTables)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
