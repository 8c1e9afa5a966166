"""Sphinx extension: ``notebook-figure NAME`` shows a notebook's stored figure on a prose page.

The figure is found by its ``mystnb.figure.name`` among the stored outputs of ``notebooks/*/*.ipynb``
(the same PNG the notebook page shows, never re-drawn), written to ``book/_generated/`` and rendered
as a figure with the notebook cell's alt text, the directive's content as caption, and a link to
the notebook. myst-nb's cross-document glue cannot carry alt text or a caption, hence this.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from docutils import nodes


def find(root: Path, name: str):
    """(notebook path, PNG bytes, alt text) of the figure ``name``; None when no notebook has it."""
    for nb in sorted((root / "notebooks").glob("*/[0-9]*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("mystnb", {})
            if meta.get("figure", {}).get("name") != name:
                continue
            for out in cell.get("outputs", []):
                png = out.get("data", {}).get("image/png")
                if png:
                    return nb, base64.b64decode(png), meta.get("image", {}).get("alt", "")
    return None


class NotebookFigure(Directive):
    required_arguments = 1
    has_content = True

    def run(self):
        env = self.state.document.settings.env
        root = Path(env.srcdir)
        name = self.arguments[0]
        env.note_reread()   # the notebook's output changes without this page changing
        found = find(root, name)
        if found is None:
            raise self.error(f"notebook-figure: no notebook has a figure named {name!r}")
        nb, png, alt = found
        out = root / "book" / "_generated" / f"{name}.png"
        out.parent.mkdir(exist_ok=True)
        if not out.exists() or out.read_bytes() != png:
            out.write_bytes(png)
        doc = nb.relative_to(root).with_suffix("").as_posix()
        lines = [f":::{{figure}} /book/_generated/{name}.png", f":alt: {' '.join(alt.split())}",
                 f":name: page-{name}", "", *self.content, f"(From {{doc}}`/{doc}`.)", ":::"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive("notebook-figure", NotebookFigure)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
