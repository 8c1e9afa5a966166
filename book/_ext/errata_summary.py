"""Sphinx extension: the ``errata-summary`` directive, a table of every entry of the errata page.

The errata page (``book/errata.md``) gathers each chapter's ``_errata.md`` and ``_caveats.md`` under
two sections, "Errors" and "Caveats and clarifications", one subsection per chapter. The directive
lists every entry found there, in page order: its title linked to it, whether it changes a
conclusion of its source (second, so that a phone shows it), its chapter and its kind. Entries are
read from the page itself, after the includes: a ``####`` heading, or a paragraph (or list item)
that opens with a bold title. The judgments come from ``book/errata_conclusions.yml`` (chapter
key, then a title's start and ``yes`` / ``narrows`` / ``no``). An entry without a judgment there,
or a judgment that names no entry, is a build warning, so ``-W`` fails until the file and the
page agree.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

JUDGMENTS = "book/errata_conclusions.yml"
#: The page's two parts and the kind each entry in them is.
PARTS = {"Errors": "error", "Caveats and clarifications": "caveat"}
#: What each value of the last column means (printed under the table).
VALUES = {"yes": "a conclusion the source draws is false or does not follow",
          "narrows": "the conclusion holds in a narrower scope, with another meaning or on weaker evidence",
          "no": "no conclusion changes"}
#: A chapter subsection's title starts with its source's first author.
CHAPTERS = {"Zhang": "zhang2021", "Carratino": "carratino2022", "Zou": "zou2023", "Kimura": "kimura2021",
            "Chidambaram": "chidambaram2022"}


class errata_summary(nodes.General, nodes.Element):
    """Placeholder, filled once the page (with its includes) is resolved."""


class ErrataSummary(Directive):
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        env.note_dependency(str(Path(env.srcdir) / JUDGMENTS))
        env.note_dependency(__file__)
        return [errata_summary()]


def _norm(text: str) -> str:
    """Whitespace collapsed, a closing full stop dropped, and straight quotes (the page's are curly)."""
    text = text.translate(str.maketrans("“”‘’", "\"\"''"))
    return re.sub(r"\s+", " ", text).strip().rstrip(".").strip()


def _lead(para: nodes.paragraph) -> nodes.strong | None:
    """The bold title a paragraph opens with, if it opens with one."""
    for child in para.children:
        if isinstance(child, nodes.Text) and not child.astext().strip():
            continue
        return child if isinstance(child, nodes.strong) else None
    return None


def entries(doctree) -> list[dict]:
    """Every entry of the errata page: part, chapter (title and key), title nodes, title text, id."""
    found = []
    for part in doctree.findall(nodes.section):
        title = part.next_node(nodes.title)
        kind = PARTS.get(_norm(title.astext())) if title is not None else None
        if kind is None:
            continue
        for chapter in (c for c in part.children if isinstance(c, nodes.section)):
            ch_title = _norm(chapter[0].astext())
            key = next((k for a, k in CHAPTERS.items() if ch_title.startswith(a)), None)
            subs = [s for s in chapter.children if isinstance(s, nodes.section)]
            if subs:
                for s in subs:
                    found.append({"kind": kind, "chapter": ch_title.split(",")[0], "key": key,
                                  "nodes": s[0].children, "text": _norm(s[0].astext()), "id": s["ids"][0]})
                continue
            for para in chapter.findall(nodes.paragraph):
                lead = _lead(para)
                if lead is None:
                    continue
                holder = para.parent if isinstance(para.parent, nodes.list_item) else para
                ids = para["ids"] or holder["ids"] or chapter["ids"]
                found.append({"kind": kind, "chapter": ch_title.split(",")[0], "key": key,
                              "nodes": lead.children, "text": _norm(lead.astext()), "id": ids[0]})
    return found


def judge(found: list[dict], judgments: dict) -> list[str]:
    """Give each entry its judgment (``entry["changes"]``); return what does not match."""
    problems, used = [], set()
    for e in found:
        options = [(start, v) for start, v in (judgments.get(e["key"]) or {}).items()
                   if e["text"].startswith(_norm(str(start)))]
        if len(options) != 1:
            problems.append(f"errata summary: {len(options)} judgments in {JUDGMENTS} for "
                            f"{e['key']} entry {e['text']!r} (need exactly one)")
            e["changes"] = "?"
            continue
        start, value = options[0]
        value = {True: "yes", False: "no"}.get(value, value)
        if value not in VALUES:
            problems.append(f"errata summary: {value!r} for {e['text']!r}; valid: {sorted(VALUES)}")
        used.add((e["key"], start))
        e["changes"] = value
    for key, table in judgments.items():
        for start in table or {}:
            if (key, start) not in used:
                problems.append(f"errata summary: {JUDGMENTS} names {key} entry {start!r}, which the page lacks")
    return problems


def _table(rows: list[list]) -> nodes.table:
    header = ["entry", "changes a conclusion?", "chapter, kind"]
    table = nodes.table(classes=["errata-summary"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in (55, 20, 25):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in header:
        row += nodes.entry("", nodes.paragraph(text=h))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", cell if isinstance(cell, nodes.Element) else nodes.paragraph(text=cell))
        body += row
    return table


class FillErrataSummary(SphinxPostTransform):
    default_priority = 100

    def run(self, **kwargs):
        for node in list(self.document.findall(errata_summary)):
            root = Path(self.env.srcdir)
            judgments = yaml.safe_load((root / JUDGMENTS).read_text()) or {}
            found = entries(self.document)
            for problem in judge(found, judgments):
                logger.warning(problem, location=node)
            rows = []
            for e in found:
                link = nodes.reference("", "", *[n.deepcopy() for n in e["nodes"]], internal=True, refid=e["id"])
                para = nodes.paragraph("", "", link)
                cell = nodes.paragraph("", e["changes"], classes=[f"errata-{e['changes']}"])
                rows.append([para, cell, f"{e['chapter']}, {e['kind']}"])
            counts = {k: {v: sum(e["kind"] == k and e["changes"] == v for e in found) for v in VALUES}
                      for k in PARTS.values()}
            lead = "; ".join(f"{sum(c.values())} {k}s ({', '.join(f'{v}: {n}' for v, n in c.items())})"
                             for k, c in counts.items())
            legend = "; ".join(f"{v}: {text}" for v, text in VALUES.items())
            node.replace_self([nodes.paragraph(text=f"{lead}. Changes a conclusion? {legend}."), _table(rows)])


def setup(app):
    app.add_node(errata_summary)
    app.add_directive("errata-summary", ErrataSummary)
    app.add_post_transform(FillErrataSummary)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
