"""Sphinx extension: the closing part's table of the five explanations of mixup, generated.

``synthesis-table`` renders one table, one column per explanation (``book/synthesis/explanations.yaml``):
its mechanism, assumptions and quantity and what it predicts for a change of alpha, of the lambda
law and of the data (text from the YAML, no numbers), then what the book found, read from the stored
claim records (``mixupbook.claims.collect``) when the book is built:

* the verdict of each of the explanation's paper items in its chapter's notebooks, most severe claim
  first, linked to the claim's card ("not yet recorded" where a chapter has no claim of that item yet);
* the book-scale comparison on one set of runs: the claims of item ``S1``..``S5`` and the numbers the
  notebook ``notebooks/synthesis/01_*.ipynb`` stored under ``SUMMARY_MIME`` (rank correlations with
  bootstrap intervals and the paired mixup - ERM difference), "not yet recorded" where it has none.

Nothing in the table is typed by hand: a verdict that changes in a notebook changes here on the next build.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.util import logging

from claim_math import pretty
from claims_ledger import collected
from mixupbook import claims

logger = logging.getLogger(__name__)

SUMMARY_MIME = "application/vnd.mixupbook.synthesis+json"
SPEC = Path("book") / "synthesis" / "explanations.yaml"
NOTEBOOKS = "notebooks/synthesis/[0-9]*.ipynb"
NOT_YET = "not yet recorded"
TEXT_ROWS = [("papers", "papers"), ("mechanism", "mechanism, in one sentence"), ("assumptions", "what it assumes"),
             ("quantity", "the quantity it says mixup changes")]
PREDICTION_ROWS = [("alpha", "predicts for a change of α"), ("law", "predicts for a change of the λ law"),
                   ("data", "predicts for a change of the data")]


def _esc(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def stored_summaries(root: Path) -> dict:
    """The per-explanation numbers stored by the synthesis notebook(s): ``{S1: {...}, ...}`` (empty if none)."""
    out = {}
    for nb in sorted(root.glob(NOTEBOOKS)):
        for cell in json.loads(nb.read_text()).get("cells", []):
            for o in cell.get("outputs", []) or []:
                data = (o.get("data") or {}).get(SUMMARY_MIME)
                if data:
                    out.update(data)
    return out


def item_cell(item: str, records: list[dict]) -> tuple[str, str]:
    """('holding' or 'failing' or 'open', markdown) for one paper item's verdict, from its records."""
    mine = [r for r in records if r["item"] == item]
    if not mine:
        return "open", f"{item}: {NOT_YET}"
    book = [r["verdict"] for r in mine if not r["verdict"].startswith("paper scale")]
    first = min(mine, key=lambda r: claims.SEVERITY.index(r["verdict"]) if r["verdict"] in claims.SEVERITY else 99)
    link = f"{{ref}}`{item} <{first['label']}>`"
    kind = "failing" if "fails" in book else "holding" if book and set(book) <= set(claims.HOLDING) else "open"
    return kind, f"{link}: {claims.item_summary(mine)}"


def _num(v) -> str:
    return "-" if v is None else f"{v:+.2f}"


def runs_cell(key: str, records: list[dict], summaries: dict) -> str:
    """The book-scale comparison for explanation ``key``: its claims and the stored correlations."""
    recs = [r for r in records if r["item"] == key and not r["verdict"].startswith("paper scale")]
    parts = []
    s = summaries.get(key)
    if s:
        rho, lo, hi, reading = s["across"]
        wrho, wlo, whi, wreading = s["within"]
        parts.append(f"{s['quantity']} vs {s['outcome']} ({s['data']}, {s['seeds']} seeds): rank correlation "
                     f"across α {_num(rho)} [{_num(lo)}, {_num(hi)}], {reading}; within one α {_num(wrho)} "
                     f"[{_num(wlo)}, {_num(whi)}], {wreading}")
        if s.get("mixup1_minus_erm"):
            m, se = s["mixup1_minus_erm"]
            parts.append(f"{s.get('difference_of', s['quantity'])}, mixup (α = 1) minus ERM: {m:.3g} (s.e. {se:.2g})")
    if recs:   # the claims' full texts are on the checklist; here their verdicts, linked to the cards
        parts.append("claims: " + ", ".join(f"{{ref}}`{r['verdict']} <{r['label']}>`" for r in recs))
    paper = [r for r in records if r["item"] == key and r["verdict"].startswith("paper scale")]
    if paper:
        parts.append(claims.paper_status(paper))
    return "<br>".join(parts) if parts else NOT_YET


def table_lines(spec: dict, records: list[dict], summaries: dict) -> list[str]:
    """The MyST pipe table: one column per explanation, one row per aspect."""
    keys = list(spec)
    lines = ["| | " + " | ".join(f"**{k}** {_esc(spec[k]['name'])}" for k in keys) + " |",
             "| --- | " + " | ".join("---" for _ in keys) + " |"]
    for field, title in TEXT_ROWS:
        lines.append(f"| {title} | " + " | ".join(_esc(spec[k][field]) for k in keys) + " |")
    verified, failed = [], []
    for k in keys:
        cells = [item_cell(i, records) for i in spec[k]["items"]]
        held = [c for kind, c in cells if kind == "holding"]
        opened = [c for kind, c in cells if kind == "open"]
        verified.append("<br>".join(held + opened) or NOT_YET)
        failed.append("<br>".join(c for kind, c in cells if kind == "failing") or "none recorded")
    lines.append("| what the book verified (and what is open) | " + " | ".join(verified) + " |")
    lines.append("| what failed in the book | " + " | ".join(failed) + " |")
    lines.append("| on one set of runs (book scale, this part's notebook) | "
                 + " | ".join(runs_cell(k, records, summaries) for k in keys) + " |")
    for field, title in PREDICTION_ROWS:
        lines.append(f"| {title} | " + " | ".join(_esc(spec[k][field]) for k in keys) + " |")
    return lines


class SynthesisTable(Directive):
    def run(self):
        env = self.state.document.settings.env
        root = Path(env.srcdir)
        for nb in (root / "notebooks").glob("*/[0-9]*.ipynb"):
            env.note_dependency(str(nb))
        env.note_dependency(str(root / SPEC))
        env.note_reread()
        spec = yaml.safe_load((root / SPEC).read_text())
        known = claims.items()
        for key, entry in spec.items():
            for item in entry["items"]:
                if item not in known:
                    logger.warning(f"synthesis-table: {key} lists unknown item {item!r}",
                                   location=(env.docname, self.lineno))
        records = collected(root)
        container = nodes.container(classes=["claims-table", "synthesis-table"])
        self.state.nested_parse(StringList(table_lines(spec, records, stored_summaries(root))),
                                self.content_offset, container)
        return [container]   # the container itself, so that its classes reach the HTML (_static/book.css)


ARMS_ITEM = "S6"
ARMS_COLUMNS = [("explanation", "explanation"), ("arm", "arm"), ("isolates", "what the arm isolates"),
                ("test loss", "share of mixup's gain, test loss [95% interval]"),
                ("accuracy", "share of mixup's gain, accuracy [95% interval]"),
                ("ECE, arm - ERM", "ECE, arm minus ERM")]


def _interval(v) -> str:
    return f"[{v[0]:.2f}, {v[1]:.2f}]" if isinstance(v, (list, tuple)) and len(v) == 2 else "-"


def arms_table_lines(records: list[dict]) -> list[str]:
    """The mechanism-arm table (item S6): one row per arm claim, from its evidence; the gain claim
    (key ``gain``) as the first row. Empty when no S6 claim is recorded."""
    recs = [r for r in records if r["item"] == ARMS_ITEM and not r["verdict"].startswith("paper scale")]
    if not recs:
        return [f"*Mechanism arms: {NOT_YET}.*"]
    lines = ["| " + " | ".join(title for _, title in ARMS_COLUMNS) + " | the row's claim: verdict (card) |",
             "| " + " | ".join("---" for _ in ARMS_COLUMNS) + " | --- |"]
    for r in recs:
        ev = dict(r["evidence"])
        card = f"{{ref}}`{r['verdict']} <{r['label']}>`"
        if "arm" not in ev:   # the gain every share divides by (ERM minus mixup in loss, the reverse in accuracy)
            cells = ["-", "mixup", "the gain every share divides by",
                     f"gain {ev.get('test loss, ERM - mixup', '-')}", f"gain {ev.get('test accuracy, mixup - ERM', '-')}",
                     ev.get("ECE, mixup - ERM (context)", "-")]
            lines.append("| " + " | ".join(_esc(c) for c in cells) + f" | {card} |")
            continue
        cells = [ev.get("explanation", "-"), ev["arm"], pretty(ev.get("isolates", "-"), "synthesis"),
                 f"{ev.get('share of the gain, test loss', '-')} {_interval(ev.get('95% interval, test loss'))}",
                 f"{ev.get('share of the gain, accuracy', '-')} {_interval(ev.get('95% interval, accuracy'))}",
                 ev.get("ECE, arm - ERM", "-")]
        lines.append("| " + " | ".join(_esc(c) for c in cells) + f" | {card} |")
    return lines


LAWS_ITEM = "S7"


def laws_table_lines(records: list[dict]) -> list[str]:
    """The second design's table (item S7): one row per reading's claim (its text, the evidence they
    share, its verdict card). Empty of rows when no S7 claim is recorded."""
    recs = [r for r in records if r["item"] == LAWS_ITEM and not r["verdict"].startswith("paper scale")]
    if not recs:
        return [f"*Laws with equal label-weight moments: {NOT_YET}.*"]
    keys = list(dict(recs[0]["evidence"]))
    lines = ["| reading | " + " | ".join(_esc(pretty(k, "synthesis")) for k in keys) + " | verdict (claim card) |",
             "| --- | " + " | ".join("---" for _ in keys) + " | --- |"]
    for r in recs:
        ev = dict(r["evidence"])
        cells = [r["claim"].split(",")[0].split(":")[0]] + [pretty(c, "synthesis") for c in [
            _interval(ev.get(k)) if isinstance(ev.get(k), list) else str(ev.get(k, "-")) for k in keys]]
        lines.append("| " + " | ".join(_esc(c) for c in cells) + f" | {{ref}}`{r['verdict']} <{r['label']}>` |")
    return lines


class MechanismArmsTable(Directive):
    """``mechanism-arms-table``: each explanation's arm and its share of mixup's gain (item S6), from
    the stored claim records of ``notebooks/synthesis/03_mechanism_arms.ipynb``; with ``:laws:``, the
    second design's readings (item S7) instead."""

    option_spec = {"laws": directives.flag}

    def run(self):
        env = self.state.document.settings.env
        root = Path(env.srcdir)
        for nb in (root / "notebooks").glob("*/[0-9]*.ipynb"):
            env.note_dependency(str(nb))
        env.note_reread()
        container = nodes.container(classes=["claims-table", "synthesis-table"])
        lines = (laws_table_lines if "laws" in self.options else arms_table_lines)(collected(root))
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("synthesis-table", SynthesisTable)
    app.add_directive("mechanism-arms-table", MechanismArmsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
