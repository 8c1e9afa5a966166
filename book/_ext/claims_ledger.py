"""Sphinx extension: checklists and the verification ledger, generated from the notebooks' claims.

``claims-checklist KEY`` renders chapter KEY's checklist: one row per claim stored in the outputs of
``notebooks/KEY/*.ipynb`` (``mixupbook.claims``), with its verdict, key evidence, seed audit and a
link to the claim's card in the notebook. ``verification-ledger`` renders every chapter's summary
line and table, and links ``claims.json`` (all records, written into the built site);
``verification-counts`` renders the summary lines alone. Coverage
problems (an item of ``paper_items.yaml`` without a claim, a claim of an unknown item, two claims
that disagree) are build warnings, so ``-W`` fails on them. A chapter with no claim at all is
listed as not yet migrated (its hand-written checklist stays).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

from claim_math import chapter_of, pretty
from mixupbook import claims

logger = logging.getLogger(__name__)


_COLLECTED: dict = {}


def collected(root: Path) -> list[dict]:
    """``claims.collect(root)``, computed once per state of the files it reads. Each claim's audit
    status hashes its notebook's code and the library code it imports (about 45 ms a claim, 2,000
    claims), and a build asks on a dozen pages: without this, 100 s of a 140 s build."""
    files = sorted([*root.glob("notebooks/*/[0-9]*.ipynb"), *root.glob("results/audit/*/*.json"),
                    *claims.PACKAGE_DIR.rglob("*.py")])
    stamp = [(str(f), f.stat().st_mtime_ns) for f in files]
    if _COLLECTED.get("stamp") != stamp:
        _COLLECTED.update(stamp=stamp, records=claims.collect(root))
    return copy.deepcopy(_COLLECTED["records"])


def _records(env) -> list[dict]:
    root = Path(env.srcdir)
    for nb in (root / "notebooks").glob("*/[0-9]*.ipynb"):
        env.note_dependency(str(nb))
    env.note_reread()   # audit records and other chapters' notebooks change without this page changing
    return collected(root)


def _esc(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def checklist_lines(key: str, records: list[dict]) -> list[str]:
    """The MyST lines of chapter ``key``'s checklist (a summary line, then one row per claim)."""
    spec = claims.chapters()[key]["items"]
    recs = [r for r in records if r["chapter"] == key]
    lines = [claims.count_line(key, recs).split(": ", 1)[1] + ".", "",
             "| item | our claim | verdict | evidence | seeds | cell |", "| --- | --- | --- | --- | --- | --- |"]
    for item, info in spec.items():
        mine = [r for r in recs if r["item"] == item]
        head = f"**{item}** {info['name']}"
        if not mine:
            lines.append(f"| {_esc(head)} | {_esc(info['result'])} | no claim yet | | | |")
        for k, r in enumerate(mine):
            evidence = pretty(claims._evidence_text(r), key)
            if r["erratum"]:
                evidence += f"; erratum: {{ref}}`{r['erratum']}`"
            for name in ("reason", "record"):
                if r[name]:
                    evidence += f"; {name}: {r[name]}"
            lines.append(f"| {_esc(head) if k == 0 else ''} | {_esc(pretty(r['claim'], key))} | {r['verdict']} | "
                         f"{_esc(evidence)} | {r['audit'] or '-'} | {{ref}}`cell <{r['label']}>` |")
    return lines


def _parse(directive: Directive, lines: list[str]):
    container = nodes.container(classes=["claims-table"])
    directive.state.nested_parse(StringList(lines), directive.content_offset, container)
    for entry in container.findall(nodes.entry):   # a verdict cell is coloured as its claim card
        if entry.astext().strip() in claims.VERDICTS:
            entry["classes"] += ["verdict", claims.verdict_class(entry.astext().strip())]
    return [container]   # the container itself, so that its class reaches the HTML (_static/book.css)


def _warn(directive, records, keys):
    for msg in claims.problems(records, keys):
        logger.warning(f"claims: {msg}", location=(directive.state.document.settings.env.docname, directive.lineno))


class ClaimsChecklist(Directive):
    required_arguments = 1

    def run(self):
        key = self.arguments[0]
        if key not in claims.chapters():
            raise self.error(f"claims-checklist: unknown chapter {key!r}; valid: {sorted(claims.chapters())}")
        records = _records(self.state.document.settings.env)
        _warn(self, [r for r in records if r["chapter"] == key], [key])
        return _parse(self, checklist_lines(key, records))


def count_lines(records: list[dict], migrated: list[str]) -> list[str]:
    """One bullet per chapter: its items counted by verdict."""
    return [f"- {claims.count_line(k, [r for r in records if r['chapter'] == k])}" if k in migrated
            else f"- {k}: not yet migrated to claim records (its checklist is still hand-written)"
            for k in claims.chapters()]


class VerificationCounts(Directive):
    """The ledger's summary lines alone (the opening page shows them)."""

    def run(self):
        records = _records(self.state.document.settings.env)
        migrated = [k for k in claims.chapters() if any(r["chapter"] == k for r in records)]
        return _parse(self, count_lines(records, migrated))


class VerificationLedger(Directive):
    def run(self):
        env = self.state.document.settings.env
        records = _records(env)
        migrated = [k for k in claims.chapters() if any(r["chapter"] == k for r in records)]
        _warn(self, records, migrated)
        depth = env.docname.count("/")
        link = nodes.paragraph("", "All claim records as one file: ")
        link += nodes.reference("", "claims.json", refuri="../" * depth + "claims.json")
        link += nodes.Text(" (its fields are documented in ")
        link += nodes.reference("", "claims.schema.json", refuri="../" * depth + "claims.schema.json")
        link += nodes.Text(").")
        out = [link, *_parse(self, count_lines(records, migrated))]
        for key, ch in claims.chapters().items():
            if key not in migrated:
                continue
            section = nodes.section(ids=[f"ledger-{key}"])
            section += nodes.title(text=ch["title"])
            section += _parse(self, checklist_lines(key, records))
            out.append(section)
        return out


def write_claims_json(app, exception):
    """claims.json (``claims.export``) and its documented schema, into the built site."""
    if exception is not None or app.builder.format != "html":
        return
    import datetime
    import subprocess
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=app.srcdir, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    data = claims.export(Path(app.srcdir), commit, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"))
    claims.validate(data)
    (Path(app.outdir) / "claims.json").write_text(json.dumps(data, indent=1) + "\n")
    (Path(app.outdir) / "claims.schema.json").write_text(claims.SCHEMA_FILE.read_text())


class claim_evidence(nodes.General, nodes.Element):
    """The evidence of a claim card: a closed ``<details>`` in HTML, plain body elsewhere (LaTeX)."""


def _visit_evidence_html(self, node):
    self.body.append('<details class="claim-evidence"><summary>evidence</summary>\n')


def _depart_evidence_html(self, node):
    self.body.append("</details>\n")


def _pass(self, node):
    pass


class CollapseClaimCards(SphinxPostTransform):
    """A claim card (``claims.card_markdown``: an admonition of class ``claim``) keeps its verdict line
    and the claim's sentence in view, the sentence's mathematics in symbols (``claim_math``); what follows (evidence, seeds, tolerance, erratum) is collapsed.
    The stored notebook outputs are unchanged; tools/print_pdf.py opens every ``details`` to print."""
    default_priority = 200

    def run(self, **kwargs):
        for card in list(self.document.findall(nodes.admonition)):
            if "claim" not in card["classes"]:
                continue
            body = [c for c in card.children if not isinstance(c, nodes.title)]
            for part in body:   # the sentence and its evidence, in math symbols (links and code as they are)
                for text in list(part.findall(nodes.Text)):
                    if not isinstance(text.parent, (nodes.literal, nodes.reference)):
                        text.parent.replace(text, nodes.Text(pretty(str(text), chapter_of(self.env.docname))))
            rest = body[1:]   # the first paragraph is the claim's sentence
            if not rest or any(isinstance(c, claim_evidence) for c in rest):
                continue
            wrapper = claim_evidence()
            for c in rest:
                card.remove(c)
                wrapper += c
            card += wrapper


def _singlehtml_handlers(app):
    """The single-page build (``make pdf``) renders nodes as the HTML build does. Sphinx looks up a
    node's visitors by builder name first and falls back to the format only when no extension has
    registered any ``singlehtml`` visitor; sphinx-exercise registers some, which left every node
    with HTML-only visitors (sphinx-jupyterbook-latex's HiddenCellNode, our claim_evidence) unknown
    to singlehtml. Copy the missing HTML visitors over."""
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for name, visitors in handlers.get("html", {}).items():
        single.setdefault(name, visitors)


def setup(app):
    app.add_node(claim_evidence, html=(_visit_evidence_html, _depart_evidence_html),
                 singlehtml=(_visit_evidence_html, _depart_evidence_html),
                 latex=(_pass, _pass), text=(_pass, _pass), man=(_pass, _pass), texinfo=(_pass, _pass))
    app.connect("builder-inited", _singlehtml_handlers)
    app.add_post_transform(CollapseClaimCards)
    app.add_directive("claims-checklist", ClaimsChecklist)
    app.add_directive("verification-ledger", VerificationLedger)
    app.add_directive("verification-counts", VerificationCounts)
    app.connect("build-finished", write_claims_json)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
