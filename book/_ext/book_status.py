"""Sphinx extension: the ``book-status`` and ``paper-tables`` directives.

Renders one row per notebook with its last execution (papermill's metadata stored
in the .ipynb by ``make execute``): when it ran, how long it took, and whether it
finished without error. The book is built with execution off, so this is what the
stored outputs come from; ``make test`` (nbval) re-executes them and compares.

``paper-tables KEY`` renders ``mixupbook.paper_tables.paper_table(KEY)``: each targeted
published number of paper KEY beside our paper-scale records in ``results/KEY``, or
"not yet run". Pages using it are re-read on every build, so new records show at once.
"""
from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


class BookStatus(Directive):
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        root = Path(env.srcdir)
        rows = []
        for path in sorted(root.glob("notebooks/*/[0-9]*.ipynb")):
            meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
            doc = path.relative_to(root).with_suffix("").as_posix()
            env.note_dependency(str(path))
            status = ("error: " + str(meta.get("exception"))) if meta.get("exception") else (
                "ok" if meta.get("end_time") else "not executed by papermill")
            duration = f"{meta['duration']:.0f}" if meta.get("duration") is not None else "-"
            ran = (meta.get("end_time") or "-")[:16].replace("T", " ")
            rows.append([f"{{doc}}`/{doc}`", path.parent.name, ran, duration, status])
        header = ["notebook", "chapter", "last executed (UTC)", "seconds", "result"]
        return _list_table(self, header, rows)


class PaperTables(Directive):
    required_arguments = 1

    def run(self):
        from mixupbook.paper_tables import NOT_RUN, paper_table

        env = self.state.document.settings.env
        env.note_reread()
        frame = paper_table(self.arguments[0], Path(env.srcdir) / "results")
        header, rows = _reader_columns(frame)
        ran = sum(row[header.index("ours")] != NOT_RUN for row in rows)
        summary = (f"{len(rows)} published numbers: {ran} reproduced at paper scale, "
                   f"{len(rows) - ran} not yet run.")
        return _paragraph(self, summary) + _list_table(self, header, rows)


#: Columns of ``paper_table`` a reader compares, in the order they read them; the rest of a
#: row (dataset, model, method, knobs) is folded into one "setting" cell so that the table
#: fits the page column (twelve columns did not: ``paper`` and ``ours`` were off screen).
KEY_COLUMNS = ["paper", "ours"]
RECORD_COLUMNS = ["seeds", "hardware", "date"]


def _reader_columns(frame) -> tuple[list[str], list[list[str]]]:
    cols = list(frame.columns)
    first = [c for c in ("item", "source") if c in cols]
    setting = [c for c in cols if c not in first + KEY_COLUMNS + RECORD_COLUMNS + ["metric"]]
    header = first + ["setting"] + (["metric"] if "metric" in cols else []) + KEY_COLUMNS + ["run"]
    rows = []
    for rec in frame.to_dict("records"):
        parts = []
        for c in setting:
            v = _cell(rec.get(c))
            if v:
                parts.append(v if c in ("dataset", "model", "method") else f"{c} = {v}")
        seeds = _cell(rec.get("seeds"))
        run = ", ".join(v for v in (f"{seeds} seeds" if seeds not in ("", "0") else "",
                                    _cell(rec.get("hardware")), _cell(rec.get("date"))) if v)
        rows.append([_cell(rec.get(c)) for c in first] + [", ".join(parts)]
                    + ([_cell(rec.get("metric"))] if "metric" in cols else [])
                    + [_cell(rec.get(c)) for c in KEY_COLUMNS] + [run])
    if not any(r[-1] for r in rows):
        header, rows = header[:-1], [r[:-1] for r in rows]
    return header, rows


def _paragraph(directive: Directive, text: str):
    container = nodes.container()
    directive.state.nested_parse(StringList([text]), directive.content_offset, container)
    return container.children


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


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
