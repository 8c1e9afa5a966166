"""The status page's table (book/_ext/book_status.py): chapter order, summary line, paths in tables."""
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import book_status  # noqa: E402


def test_chapters_follow_the_table_of_contents():
    order = book_status.chapter_order(ROOT / "_toc.yml")
    text = (ROOT / "_toc.yml").read_text()
    assert order == sorted(order, key=lambda k: text.index(f"notebooks/{k}/"))
    with_notebooks = {p.parent.name for p in (ROOT / "notebooks").glob("*/[0-9]*.ipynb")}
    assert with_notebooks <= set(order), "every chapter with notebooks is in _toc.yml"
    assert order[0] == "foundations"


def test_summary_line_counts_every_outcome():
    line = book_status.summary_line(5, 2, {"ok": 3, "error": 1, "not executed": 1}, 150.0)
    assert line == ("5 notebooks in 2 chapters: 3 finished without error, 1 stopped with an error, "
                    "1 not executed by papermill; 2.5 minutes of execution in all at book scale.")
    assert "stopped" not in book_status.summary_line(1, 1, {"ok": 1, "error": 0, "not executed": 0}, 6.0)


def test_long_paths_in_paper_tables_become_code_and_short_ones_stay():
    cell = "authors' log runs/datasets_subset_0.2_alpha_1024_epochs_1_analysis.out @ 155e02a"
    assert book_status._code_paths(cell) == \
        "authors' log `runs/datasets_subset_0.2_alpha_1024_epochs_1_analysis.out` @ 155e02a"
    assert book_status._code_paths("CIFAR-10/100, ResNet-18") == "CIFAR-10/100, ResNet-18"
    assert book_status._code_paths("{doc}`/notebooks/zhang2021/01_quadratic_approximation`") == \
        "{doc}`/notebooks/zhang2021/01_quadratic_approximation`"


def test_titles_come_from_the_chapter_list():
    items = yaml.safe_load((ROOT / "src" / "mixupbook" / "paper_items.yaml").read_text())
    assert book_status._chapter_titles()["zhang2021"] == items["zhang2021"]["title"]
