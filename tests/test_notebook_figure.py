"""book/_ext/notebook_figure.py: a prose page shows a notebook's stored figure, found by its name."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import notebook_figure  # noqa: E402


def test_every_figure_the_book_pages_show_exists_with_alt_text():
    import re
    names = {m for p in (ROOT / "book").rglob("*.md")
             for m in re.findall(r"```\{notebook-figure\} (\S+)", p.read_text())}
    assert names, "no page uses notebook-figure"
    for name in names:
        found = notebook_figure.find(ROOT, name)
        assert found is not None, name
        nb, png, alt = found
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(alt) > 20, name


def test_unknown_name_is_none():
    assert notebook_figure.find(ROOT, "fig-no-such-figure") is None
