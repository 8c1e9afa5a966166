"""The notebooks as a reader meets them: code in 88 columns, boilerplate collapsible, tables as HTML."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import format_notebooks  # noqa: E402


def test_code_cells_are_formatted_to_88_columns_and_boilerplate_collapses():
    problems = [p for nb in format_notebooks.notebooks() for p in format_notebooks.format_notebook(nb, write=False)]
    assert not problems, "\n".join(problems)


def test_the_formatter_wraps_long_comments_and_collapses_imports():
    cell = type("Cell", (), {})()
    cell.metadata, cell.source = {}, "import numpy as np\nx = 1  # " + "word " * 30
    src, tags = format_notebooks.format_cell(cell)
    assert all(len(line) <= format_notebooks.WIDTH for line in src.splitlines())
    assert src.splitlines()[-1] == "x = 1" and src.count("# word") >= 2
    assert tags == []   # an assignment is not boilerplate
    cell.source = 'def f():\n    """' + "word " * 40 + '\n\n    second paragraph."""\n    return 1\n'
    src, _ = format_notebooks.format_cell(cell)
    assert all(len(line) <= format_notebooks.WIDTH for line in src.splitlines()) and "\n\n    second" in src
    cell.source = "import numpy as np\nfrom scipy import stats"
    assert format_notebooks.format_cell(cell) == (cell.source, ["hide-input"])


def test_no_notebook_prints_a_table_as_text():
    """A DataFrame printed with to_string loses its right-hand columns on the page: notebook.show_table."""
    bad = [nb.name for nb in format_notebooks.notebooks()
           if any(".to_string(" in "".join(c["source"]) for c in json.loads(nb.read_text())["cells"])]
    assert not bad, bad
