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


def _weigh(tmp_path, files: dict[str, int], max_weight_mb=3.0):
    tags = []
    for name, size in files.items():
        (tmp_path / name).write_text(("/*" if name.endswith(".css") else "//") + "x" * size + ("*/" if name.endswith(".css") else ""))
        tags.append(f'<link rel="stylesheet" href="{name}">' if name.endswith(".css") else f'<script src="{name}"></script>')
    (tmp_path / "page.html").write_text(PAGE.format(body="<p>text</p>", head="".join(tags)))
    (result,) = browser_check.check(tmp_path, verbose=False, max_weight_mb=max_weight_mb)
    return result


def test_page_weight(tmp_path):
    """Today's weight is found: MathJax's combined tex-svg.js (2.11 MB) and the theme's scripts, the
    search index on every page, the theme's styles: 3.1 MB > 3 MB. Without the index and with the
    loaded MathJax parts (1.71 MB) the page passes; the report names each part."""
    today = _weigh(tmp_path, {"tex-svg.js": 2_110_000, "theme.js": 170_000, "searchindex.js": 273_000,
                              "theme.css": 566_000})
    (weight,) = [p for p in today.problems if p.startswith("weight:")]
    assert "scripts 2.28" in weight and "index 0.27" in weight and "styles 0.57" in weight, weight
    for name in ("tex-svg.js", "searchindex.js"):
        (tmp_path / name).unlink()
    lighter = _weigh(tmp_path, {"mathjax-parts.js": 1_710_000, "theme.js": 170_000, "theme.css": 566_000})
    assert not [p for p in lighter.problems if p.startswith("weight:")], lighter.problems
    assert 2.4 < lighter.weight_mb < 3.0 and set(lighter.weight) == {"html", "scripts", "styles"}


# The theme's links to the previous and next page (pydata-sphinx-theme's rules), with the title
# that lost its arrow at 420 px.
PREV_NEXT = """<div style="height: 1200px">a page taller than the screen</div><div class="prev-next-area">
<a class="left-prev" href="#"><i>&lsaquo;</i><div class="prev-next-info"><p class="prev-next-subtitle">previous</p>
  <p class="prev-next-title">Mixup as a perturbed ERM</p></div></a>
<a class="right-next" href="#"><div class="prev-next-info"><p class="prev-next-subtitle">next</p>
  <p class="prev-next-title">6.2. The alternating-line counterexample and the collision finder (H1, H2)</p></div><i>&rsaquo;</i></a>
</div>"""
THEME_PREV_NEXT_CSS = """<style>
.prev-next-area a { align-items: center; display: flex; max-width: 45%; overflow-x: hidden; padding: 10px; }
.prev-next-area a.left-prev { float: left; } .prev-next-area a.right-next { float: right; }
.prev-next-area a .prev-next-info { flex-direction: column; margin: 0 .5em; }
.prev-next-area i { font-size: 1.2em; display: inline-block; width: 1.25em; }
.prev-next-area { font-family: system-ui, sans-serif; } .prev-next-area p { margin: 0 .3em; } .prev-next-area a p.prev-next-title { font-size: 1.1em; overflow-wrap: break-word; }
.prev-next-area a.right-next div.prev-next-info { text-align: right; }
</style>"""


def test_a_cut_next_link_is_found_and_the_book_css_answers_it(tmp_path):
    problems = _check(tmp_path, PREV_NEXT, THEME_PREV_NEXT_CSS)
    assert any('"next" link cut' in p for p in problems), problems
    assert _check(tmp_path, PREV_NEXT, THEME_PREV_NEXT_CSS + f"<style>{BOOK_CSS}</style>") == []


def test_search_snippets_read_formulas_as_text():
    """A search snippet is the text of the fetched page, where a formula is its TeX source; the book's
    search script (book/_ext/search_scorer.js, loaded after Sphinx's searchtools.js) reads each
    formula out as plain text. Sphinx's own htmlToText, as searchtools.js has it, is the stand-in."""
    from playwright.sync_api import sync_playwright

    sphinx = """const Search = { htmlToText: (html, anchor) =>
        new DOMParser().parseFromString(html, 'text/html').querySelector('[role="main"]').textContent };"""
    page = ('<div role="main"><p>mix with <span class="math notranslate nohighlight">\\(\\lambda \\sim '
            '\\tilde{\\mathcal D}_\\lambda\\)</span>; the penalty</p><div class="math notranslate nohighlight">'
            '\\[\\mathbb{E}\\left[(1-\\lambda)^2\\right]\\,\\theta^\\top \\Sigma_X \\theta\\]</div></div>')
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_check.chromium_path(), args=browser_check.CHROMIUM_ARGS)
        tab = browser.new_page()
        tab.add_script_tag(content=sphinx)
        before = tab.evaluate("(html) => Search.htmlToText(html)", page)
        tab.add_script_tag(content=(ROOT / "book" / "_ext" / "search_scorer.js").read_text())
        after = tab.evaluate("(html) => Search.htmlToText(html)", page)
        browser.close()
    import re
    assert re.search(browser_check.TEX_IN_SNIPPET, before)
    assert not re.search(browser_check.TEX_IN_SNIPPET, after), after
    assert "λ ∼ D̃_λ" in after and "E[(1-λ)^2] θ^⊤ Σ_X θ" in after, after
