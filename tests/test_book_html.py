"""Headings hold no TeX: Sphinx writes a title's plain text, raw TeX included, into the browser tab,
the search results, the sidebar and every link to it, so headings use Unicode (R₁, ω, q̂, τ²)."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^#{1,6} .*\$", re.M)


def markdown_sources():
    for path in sorted(ROOT.glob("book/**/*.md")):
        yield path, path.read_text()
    for path in sorted(ROOT.glob("notebooks/*/[0-9]*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_no_heading_holds_tex_math():
    bad = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p, text in markdown_sources() for m in HEADING.finditer(text)]
    assert not bad, "write these headings with Unicode symbols instead of $...$:\n" + "\n".join(bad)


def test_the_check_sees_a_heading_with_math():
    assert HEADING.search("text\n## The weight $\\mathbb{E}[\\lambda^2]$\n")
    assert not HEADING.search("## Plain heading\nand $x$ in prose\n")
