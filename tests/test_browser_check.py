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

PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width"></head><body>
<article class="bd-article" style="max-width: 600px">{body}</article></body></html>"""


def _check(tmp_path, body):
    (tmp_path / "page.html").write_text(PAGE.format(body=body))
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
    (tmp_path / "page.html").write_text(PAGE.format(body='<script src="big.js"></script>'))
    (result,) = browser_check.check(tmp_path, max_script_mb=0.1, verbose=False)
    assert any(p.startswith("scripts:") for p in result.problems), result.problems
