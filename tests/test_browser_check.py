"""tools/browser_check.py finds each defect it is meant to find (and none on a clean page)."""
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser_check  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                                reason="no chromium (make setup installs Debian's)")

PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<link rel="icon" href="data:,">{head}</head><body>
<article class="bd-article" style="max-width: 600px">{body}</article></body></html>"""
BOOK_CSS = (ROOT / "_static" / "book.css").read_text()
# What today's pages hold, as the theme and the book render it: a printed output with a long line,
# an inline formula whose glyphs overhang its box, a notation table wider than a phone, and a display
# equation wider than a phone.
READER_DEFECTS = """
<div class="cell_output"><pre>{out}</pre></div>
<p>a formula <span class="math"><mjx-container jax="SVG" style="display: inline-block; width: 40px"><svg
   width="46" height="10" style="width: 46px"></svg></mjx-container></span> in a line</p>
<div class="pst-scrollable-table-container" style="overflow-x: auto">
  <table><tr><td>symbol</td><td style="min-width: 450px">meaning</td></tr></table></div>
<div class="math"><mjx-container jax="SVG" display="true" style="display: block"><svg width="500" height="20"
   style="width: 500px"></svg></mjx-container></div>
""".format(out="x = " + "1.234 " * 150)
# The rules of _static/book.css those defects were shown with before it answered them.
DEFECT_CSS = """<style>
span.math > mjx-container { max-width: 100%; overflow-x: auto; overflow-y: hidden; }
div.math mjx-container[display="true"] { overflow-x: auto; overflow-y: hidden; max-width: 100%; }
</style>"""


def _check(tmp_path, body, head=""):
    (tmp_path / "page.html").write_text(PAGE.format(body=body, head=head))
    (result,) = browser_check.check(tmp_path, verbose=False)
    return result.problems


def test_a_clean_page_passes(tmp_path):
    assert _check(tmp_path, "<p>text</p><table><tr><td>a</td><td>b</td></tr></table>") == []


def test_each_defect_is_found(tmp_path):
    problems = _check(tmp_path, f"""
      <script>console.error("boom"); undefinedFunction();</script>
      <span class="math">\\(x^2\\)</span>
      <table><tr><td style="min-width: 900px">wide</td></tr></table>
      <img src="missing.png">
      <div class="cell_input"><pre style="width: 300px; overflow: auto">{"x" * 400}</pre></div>
      <div style="width: 1000px; position: absolute; left: 0">a wide block</div>""")
    text = "\n".join(problems)
    for expected in ["console: boom", "uncaught", "math not typeset", "table 9", "image not loaded",
                     "image without alt text", "code ", "scrolls sideways", "missing:"]:
        assert expected in text, (expected, problems)


def test_script_budget(tmp_path):
    (tmp_path / "big.js").write_text("//" + "x" * 200_000)
    (tmp_path / "page.html").write_text(PAGE.format(body='<script src="big.js"></script>', head=""))
    (result,) = browser_check.check(tmp_path, max_script_mb=0.1, verbose=False)
    assert any(p.startswith("scripts:") for p in result.problems), result.problems


def test_what_readers_met_is_found(tmp_path):
    problems = _check(tmp_path, READER_DEFECTS, DEFECT_CSS)
    text = "\n".join(problems)
    for expected in ["output ", "inline formula in a scroll box", "scrolls its first column out of view",
                     "scrolls with no sign that it does"]:
        assert expected in text, (expected, problems)


def test_the_book_css_answers_them(tmp_path):
    assert _check(tmp_path, READER_DEFECTS, DEFECT_CSS + f"<style>{BOOK_CSS}</style>") == []


def test_a_page_without_a_favicon_is_found(tmp_path):
    (tmp_path / "page.html").write_text("<!doctype html><html><body><p>text</p></body></html>")
    (result,) = browser_check.check(tmp_path, verbose=False)
    assert any(p.startswith("no favicon") for p in result.problems), result.problems


def test_scroll_bars_are_shown(tmp_path):
    """A page taller than the window shows a vertical scroll bar, as a desktop browser draws it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_check.chromium_path(), args=browser_check.CHROMIUM_ARGS,
                                     ignore_default_args=browser_check.SHOW_SCROLLBARS)
        tab = browser.new_page(viewport={"width": 800, "height": 600})
        tab.set_content("<div style='height: 3000px'>tall</div>")
        bar = tab.evaluate("() => window.innerWidth - document.documentElement.clientWidth")
        browser.close()
    assert bar > 0
