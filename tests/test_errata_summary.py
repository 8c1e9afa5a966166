"""The errata summary (book/_ext/errata_summary.py): every entry judged once, every judgment used."""
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import errata_summary  # noqa: E402


def _entry(text, key="zhang2021", kind="error"):
    return {"kind": kind, "chapter": "Zhang et al. (2021)", "key": key, "nodes": [], "text": text, "id": "x"}


def test_each_entry_gets_its_judgment():
    found = [_entry("Lemma 3.3 (eq. 7): the weight"), _entry("Theorem 3.4: empirical vs expected complexity")]
    assert errata_summary.judge(found, {"zhang2021": {"Lemma 3.3": "yes", "Theorem 3.4": False}}) == []
    assert [e["changes"] for e in found] == ["yes", "no"]


def test_a_missing_an_ambiguous_and_an_unused_judgment_are_reported():
    found = [_entry("Lemma 3.3 (eq. 7)"), _entry("Theorem 3.5: fixed first layer")]
    problems = errata_summary.judge(found, {"zhang2021": {"Lemma": "yes", "Lemma 3.3": "no", "Fig. 9": "no"}})
    text = "\n".join(problems)
    assert "2 judgments" in text and "0 judgments" in text and "'Fig. 9', which the page lacks" in text
    assert [e["changes"] for e in found] == ["?", "?"]


def test_an_unknown_value_is_reported():
    assert "valid" in "".join(errata_summary.judge([_entry("K-1: typos", "kimura2021")], {"kimura2021": {"K-1": "maybe"}}))


def test_the_book_judgments_use_the_three_values_and_known_chapters():
    table = yaml.safe_load((ROOT / errata_summary.JUDGMENTS).read_text())
    assert set(table) <= set(errata_summary.CHAPTERS.values())
    values = {{True: "yes", False: "no"}.get(v, v) for starts in table.values() for v in starts.values()}
    assert values <= set(errata_summary.VALUES)
