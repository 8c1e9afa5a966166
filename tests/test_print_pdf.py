"""tools/print_pdf.py: nothing past the page edge, bookmarks that read as the headings."""
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import print_pdf  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                                reason="no chromium (make setup installs Debian's)")

HEADING = "A heading long enough to wrap across two lines of the printed page, and then some more words"
# The theme's layout, as the book's pages have it: sphinx-book-theme's print CSS gives the content
# column a 2 rem left margin.
PAGE = f"""<!doctype html><html><head><title>A test book</title>
<style>@media print {{ .bd-main .bd-content {{ margin-left: 2rem; }} }}</style></head><body>
<main class="bd-main"><div class="bd-content"><div class="bd-article-container"><article class="bd-article">
<span id="document-intro"></span><section id="intro"><h1>{HEADING}</h1>
<p>{"Every word of this paragraph has to stay inside the printed page. " * 20}</p>
<pre>{"long_code_line_" * 12}</pre></section>
</article></div></div></main></body></html>"""
# PRINT_CSS before the fix: the column forced to 100% width beside the theme's margin, code unwrapped.
OLD_CSS = """
.bd-main .bd-content .bd-article-container, .bd-page-width, .bd-content, .bd-article
  { max-width: 100% !important; width: 100% !important; padding: 0 !important; }
"""


def _bookmarks(pdf: bytes) -> list[str]:
    """The titles of the PDF's bookmarks (outline items: objects with a /Parent), newest versions."""
    objects = dict(re.findall(rb"(?m)^(\d+) 0 obj\n(.*?)\nendobj", pdf, re.S))
    found = [re.search(rb"/Title (\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", body) for body in objects.values()
             if b"/Parent" in body]
    return [print_pdf._title_text(m.group(1)) for m in found if m]


def _print(tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text(PAGE)
    out = tmp_path / "book.pdf"
    monkeypatch.chdir(tmp_path)   # no _config.yml: the title page names no author
    pages, size, past = print_pdf.print_pdf(tmp_path, out)
    return pages, past, _bookmarks(out.read_bytes())


def test_the_book_prints_inside_the_page_with_its_headings_as_bookmarks(tmp_path, monkeypatch):
    pages, past, titles = _print(tmp_path, monkeypatch)
    assert pages >= 2 and past == []
    assert HEADING in titles and "A test book" in titles, titles


def test_text_past_the_edge_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(print_pdf, "PRINT_CSS", OLD_CSS)
    _, past, _ = _print(tmp_path, monkeypatch)
    assert any(p.startswith("text ") and "past the edge" in p for p in past), past


def test_chromium_bookmarks_need_rewriting(tmp_path, monkeypatch):
    """Without fix_outline the bookmark runs the heading's two lines together."""
    monkeypatch.setattr(print_pdf, "fix_outline", lambda pdf, titles: pdf)
    (tmp_path / "index.html").write_text(PAGE)
    monkeypatch.chdir(tmp_path)
    print_pdf.print_pdf(tmp_path, tmp_path / "book.pdf")
    titles = _bookmarks((tmp_path / "book.pdf").read_bytes())
    assert titles and HEADING not in titles, titles


def test_fix_outline_refuses_other_headings(tmp_path, monkeypatch):
    fix_outline = print_pdf.fix_outline
    monkeypatch.setattr(print_pdf, "fix_outline", lambda pdf, titles: pdf)
    (tmp_path / "index.html").write_text(PAGE)
    monkeypatch.chdir(tmp_path)
    print_pdf.print_pdf(tmp_path, tmp_path / "book.pdf")
    pdf = (tmp_path / "book.pdf").read_bytes()
    n = len(_bookmarks(pdf))
    with pytest.raises(ValueError, match="bookmarks"):
        fix_outline(pdf, ["x"] * (n + 1))
    with pytest.raises(ValueError, match="is not the heading"):
        fix_outline(pdf, ["Unrelated"] * n)
