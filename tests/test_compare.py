"""The rule by which make test compares re-executed notebook outputs (mixupbook.compare)."""
import copy
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mixupbook import claims, compare

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("a,b,agree", [
    ("0.971", "0.971", True), ("0.971", "0.972", True), ("0.971", "0.974", True), ("0.971", "0.990", False),
    ("1.2e-05", "1.4e-05", True), ("1.2e-05", "1.2e-04", False),
    ("3", "4", False), ("24000", "24000", True),             # integers are counts: equal or not
    ("98.63", "97.22", False), ("1234.5", "1240.1", True),   # 1% relative on large values
    ("-0.003", "0.002", False),
])
def test_number_rule(a, b, agree):
    assert compare.number_agrees(a, b) is agree
    assert compare.number_agrees(b, a) is agree


@pytest.mark.parametrize("new,agree", [
    ("gap 0.971 +- 0.005 (5 seeds)", True),
    ("gap 0.982 +- 0.004 (5 seeds)", True),    # within 4 s.e., s.e. within a factor 4
    ("gap 0.995 +- 0.005 (5 seeds)", False),   # mean moved by 4.8 s.e.
    ("gap 0.971 +- 0.025 (5 seeds)", False),   # s.e. 5 times larger
    ("gap 0.971 +- 0.005 (6 seeds)", False),   # a count
    ("gap 0.971 ± 0.005 (5 seeds)", False),    # another form
    ("GAP 0.971 +- 0.005 (5 seeds)", False),   # other text
])
def test_text_rule_with_standard_errors(new, agree):
    assert (compare.text_mismatch("gap 0.971 +- 0.005 (5 seeds)", new) is None) is agree


def test_words_with_digits_stay_text():
    assert compare.text_mismatch("claim-z11-2 at x2", "claim-z11-3 at x2") is not None
    assert compare.text_mismatch("Beta(1, 1): 0.50", "Beta(1, 1): 0.51") is None


def _stored_record():
    """A stored claim record with a float among its evidence (notebook outputs as committed)."""
    recs = [r for nb in sorted((ROOT / "notebooks").glob("*/[0-9]*.ipynb")) for r in claims.notebook_claims(nb)]
    rec = next(r for r in recs if any(isinstance(v, float) and v for _, v in r["evidence"]))
    return {k: v for k, v in rec.items() if k != "cell"}


def _last_digit(v: float, units: int) -> float:
    text = compare._printed(v)
    return float(text) + units * compare.unit(text if "." in text or "e" in text else text + ".0")


def test_stored_claim_record_one_unit_agrees_far_more_does_not():
    rec = _stored_record()
    i, (name, value) = next((i, e) for i, e in enumerate(rec["evidence"]) if isinstance(e[1], float) and e[1])
    near, far = copy.deepcopy(rec), copy.deepcopy(rec)
    near["evidence"][i][1] = _last_digit(value, 1)
    far["evidence"][i][1] = value * 1.5 + 1.0
    assert compare.mismatch(rec, near) is None
    assert name in compare.mismatch(rec, far)


@pytest.mark.parametrize("field,value", [("verdict", "fails"), ("held", False), ("item", "Z1"), ("claim", "other")])
def test_stored_claim_record_other_verdict_or_text_fails(field, value):
    rec = _stored_record()
    changed = {**rec, field: value}
    assert field in compare.mismatch(rec, changed)


def _printing_notebook(path: Path, stored_output: str, printed: str) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(f"print({printed!r})", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored_output + "\n")]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _nbval(path: Path, *extra) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                           "--nbval-current-env", *extra, str(path)], cwd=path.parent, capture_output=True).returncode


@pytest.mark.parametrize("printed,tolerant,passes", [
    ("test accuracy 0.937 +- 0.004", True, True),    # one last-digit unit
    ("test accuracy 0.937 +- 0.004", False, False),  # the same under exact nbval: red
    ("test accuracy 0.900 +- 0.004", True, False),   # far more
    ("test accuracy 0.936 +- 0.004 fails", True, False),
])
def test_nbval_with_the_plugin(tmp_path, printed, tolerant, passes):
    nb = tmp_path / "nb.ipynb"
    _printing_notebook(nb, "test accuracy 0.936 +- 0.004", printed)
    rc = _nbval(nb, *(["-p", "mixupbook.compare"] if tolerant else []))
    assert (rc == 0) is passes


def test_the_rule_is_stated_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for constant in (f"{compare.UNITS} units", f"{compare.RTOL:.0%}", f"{compare.SE_MULTIPLE:g} s.e.",
                     f"factor of {compare.SE_RATIO:g}", f"{compare.INTERVAL_FRACTION:g} of its width"):
        assert constant in readme, constant


@pytest.mark.parametrize("moved,agree", [([0.2624, 0.48], True),    # ends moved by about 1 s.e. (another CPU)
                                         ([0.05, 0.30], False)])    # moved by a whole width
def test_an_interval_in_the_evidence_agrees_within_half_its_width(moved, agree):
    rec = {**claims.make_record("S6", "x", "holds", holds=True, seeds=[0, 1],
                                evidence={"95% interval, accuracy": [0.3109, 0.5], "pair": [0.3109, 0.5]}),
           "label": "claim-s6"}
    new = copy.deepcopy(rec)
    new["evidence"][0][1] = moved
    assert (compare.mismatch(rec, new) is None) is agree
    other = copy.deepcopy(rec)
    other["evidence"][1][1] = [0.2624, 0.48]          # not named as an interval: the number rule
    assert "pair" in compare.mismatch(rec, other)


@pytest.mark.parametrize("form", [claims.card_text, claims.card_markdown, claims.card_html])
def test_a_claim_cards_printed_forms_are_compared_up_to_their_evidence(form):
    rec = {**claims.make_record("S6", "the arm recovers all", "holds", holds=True, seeds=[0, 1],
                                evidence={"95% interval, accuracy": [0.3109, 0.5]}), "label": "claim-s6"}
    moved = copy.deepcopy(rec)
    moved["evidence"][0][1] = [0.2624, 0.48]
    assert compare.mismatch(form(rec), form(moved)) is None        # the evidence: the record's to judge
    assert compare.mismatch(form(rec), form({**rec, "verdict": "fails"}))
    assert compare.mismatch(form(rec), form({**rec, "claim": "the arm recovers half"}))
