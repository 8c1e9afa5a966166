"""Sphinx extension: the ``book-status`` directive.

Renders one row per notebook with its last execution (papermill's metadata stored
in the .ipynb by ``make execute``): when it ran, how long it took, and whether it
finished without error. The book is built with execution off, so this is what the
stored outputs come from; ``make test`` (nbval) re-executes them and compares.
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
            rows.append([f":doc:`/{doc}`", path.parent.name, ran, duration, status])
        lines = [".. list-table::", "   :header-rows: 1", "",
                 "   * - notebook", "     - chapter", "     - last executed (UTC)", "     - seconds", "     - result"]
        for row in rows:
            lines.append(f"   * - {row[0]}")
            lines += [f"     - {cell}" for cell in row[1:]]
        container = nodes.container()
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive("book-status", BookStatus)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
