"""book/_ext/book_html.py on a two-page Sphinx project: a {ref} to a heading with math keeps the math."""
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ref_to_a_heading_with_math_is_typeset_not_raw_tex(tmp_path):
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys; sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_parser', 'book_html']\nmyst_enable_extensions = ['dollarmath']\n"
        "html_theme = 'basic'\n")
    (src / "index.md").write_text("# Home\n\n```{toctree}\nother\n```\n\nSee {ref}`weight-label`.\n")
    (src / "other.md").write_text("# Other\n\n(weight-label)=\n## The weight $\\mathbb{E}[\\lambda^2]$\n\ntext\n")
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=sys.stderr, freshenv=True)
    app.build()
    html = (tmp_path / "out" / "index.html").read_text()
    link = html[html.index("std-ref"):][:400]
    assert '<span class="math' in link and "The weight" in link, link
    shutil.rmtree(tmp_path / "out")


def test_page_titles_for_the_browser_tab_carry_no_tex():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import book_html

    assert book_html.plain_title(r"Fig. 3: how \(R\) and \(R_i\) move (Z5)") == "Fig. 3: how R and R_i move (Z5)"
    assert book_html.plain_title(r"the weight \(\mathbb{E}[(1-\lambda)^2]\)") == "the weight E[(1-λ)^2]"
    assert book_html.plain_title("Mixup: no math") == "Mixup: no math"
