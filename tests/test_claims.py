"""Claims: validation, the condition a verdict needs, generated checklists, the audit's freshness."""
import copy
import functools
import json
import shutil
import sys
from pathlib import Path

import pytest

from mixupbook import claims

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import claims_ledger  # noqa: E402

def _claim(**kw):
    args = dict(item="F2", claim="Monte Carlo matches quadrature", verdict="holds", holds=True,
                evidence={"gap": 0.1}, display=False)
    args.update(kw)
    return claims.claim(**args)


@pytest.mark.parametrize("kw,name", [
    ({"verdict": "hold"}, "verdict"),
    ({"item": "Z99"}, "item"),
    ({"holds": None}, "holds"),
    ({"holds": 0.3}, "holds"),
    ({"evidence": {"model": object()}}, "evidence"),
    ({"evidence": {"x": float("nan")}}, "evidence"),
    ({"verdict": "holds after correction"}, "erratum"),
    ({"verdict": "stated, not checked", "holds": None}, "reason"),
    ({"verdict": "paper scale: not yet run"}, "holds"),
    ({"paper": {"value": 1.0}}, "paper"),
])
def test_bad_arguments_raise_a_value_error_naming_them(kw, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        _claim(**kw)


def test_the_verdict_condition_is_asserted(monkeypatch):
    monkeypatch.delenv(claims.AUDIT_ENV, raising=False)
    with pytest.raises(AssertionError, match="F2"):
        _claim(holds=False)
    with pytest.raises(AssertionError):
        _claim(verdict="fails", holds=True)   # a counterexample that does not fail
    assert _claim(verdict="fails", holds=False)["held"] is True
    monkeypatch.setenv(claims.AUDIT_ENV, "1")
    assert _claim(holds=False)["held"] is False   # the audit records instead of stopping


def test_record_is_plain_json_with_labels_per_item():
    import numpy as np
    import torch
    counts = {}
    a = _claim(counts=counts, holds=np.bool_(True), evidence={"v": np.float32(0.123456), "t": torch.tensor(2.0)})
    b = _claim(counts=counts)
    c = _claim(counts=counts, key="mc")
    assert json.loads(json.dumps(a))["evidence"] == [["v", 0.1235], ["t", 2.0]]
    assert (a["label"], b["label"], c["label"]) == ("claim-f2", "claim-f2-2", "claim-f2-mc")
    s = claims.summary([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["n"] == 3 and abs(s["se"] - (1 / 3) ** 0.5) < 1e-12


def test_item_summary_shows_its_parts_and_the_paper_scale_status():
    recs = [{"verdict": "holds"}, {"verdict": "fails"}, {"verdict": "fails"}, {"verdict": "paper scale: not yet run"}]
    assert claims.item_summary(recs) == "2 fail, 1 holds; paper scale: not yet run"
    assert claims.item_summary(recs[1:3]) == "fails"
    assert claims.item_summary(recs[3:]) == "paper scale: not yet run"


def test_count_line_counts_claims_and_never_counts_stated_as_holding():
    item = next(iter(claims.chapters()["zhang2021"]["items"]))
    recs = [{"item": item, "verdict": v} for v in ("holds", "stated, not checked", "paper scale: run")]
    line = claims.count_line("zhang2021", recs)
    assert ": 1 holds, 1 stated, not checked; paper scale: 1 item run;" in line and "without a claim yet" in line


def test_every_chapter_key_and_item_is_known():
    known = claims.chapters()
    assert {"foundations", "zhang2021", "carratino2022", "zou2023", "kimura2021", "chidambaram2022"} <= set(known)
    ids = [i for ch in known.values() for i in ch["items"]]
    assert len(ids) == len(set(ids))


@functools.lru_cache(maxsize=None)
def _stored() -> list[dict]:
    """The book's claim records, read once per process (``collect`` hashes every notebook and the
    library per claim); the tests below only read them."""
    return claims.collect(ROOT)


def _migrated():
    return sorted({r["chapter"] for r in _stored()})


def test_stored_claims_cover_their_chapters_and_validate():
    records = _stored()
    assert not claims.problems(records, _migrated())
    data = claims.export(ROOT)
    claims.validate(data)
    bad = {**data, "claims": [{**data["claims"][0], "verdict": "holds mostly"}]} if records else None
    if bad:
        with pytest.raises(ValueError, match="verdict"):
            claims.validate(bad)


def test_problems_are_found():
    records = _stored()
    if not records:
        pytest.skip("no chapter migrated yet")
    r = records[0]
    other = {**r, "notebook": "notebooks/x/99_copy", "verdict": "fails" if r["verdict"] != "fails" else "holds"}
    errs = claims.problems([other, *records], [r["chapter"]])
    assert any("but" in e for e in errs) and any("label" in e for e in errs)
    missing = [x for x in records if x["item"] != r["item"]]
    assert any(e.startswith(f"{r['item']} ") for e in claims.problems(missing, [r["chapter"]]))
    assert claims.problems([{**r, "item": "Q1"}], []) == [f"{r['notebook']}: claim of unknown item 'Q1'"]


def test_checklist_follows_a_changed_stored_evidence_value(tmp_path):
    records = _stored()
    if not records:
        pytest.skip("no chapter migrated yet")
    rec = next(r for r in records if r["evidence"])
    (tmp_path / "notebooks").mkdir()
    shutil.copytree(ROOT / "notebooks" / rec["chapter"], tmp_path / "notebooks" / rec["chapter"])
    nb_path = tmp_path / (rec["notebook"] + ".ipynb")
    nb = json.loads(nb_path.read_text())
    key = rec["evidence"][0][0]
    for o in nb["cells"][rec["cell"]]["outputs"]:
        stored = (o.get("data") or {}).get(claims.MIME)
        if stored and stored["label"] == rec["label"]:
            stored["evidence"][0][1] = 987654.0
    nb_path.write_text(json.dumps(nb))
    before = "\n".join(claims_ledger.checklist_lines(rec["chapter"], records))
    after = "\n".join(claims_ledger.checklist_lines(rec["chapter"], claims.collect(tmp_path)))
    assert "987654" not in before and f"{key} = 987654" in after


def test_committed_seed_audit_is_fresh_for_holding_claims():
    """Every notebook with a checked claim has a current seed audit at which each such claim held with
    its stored verdict at every seed (make audit-seeds after every change to its code)."""
    from mixupbook import audit

    bad = [e for nb in sorted((ROOT / "notebooks").glob("*/[0-9]*.ipynb")) for e in audit.problems(ROOT, nb)]
    assert not bad, "\n".join(bad)


def test_source_hash_counts_code_only(tmp_path):
    """The launch-install cell, comments, formatting and prose leave the seed audits current; code does not."""
    sys.path.insert(0, str(ROOT / "tools"))
    import add_launch_cell

    src = ROOT / "notebooks" / "foundations" / "01_mixing_and_the_mixup_loss.ipynb"
    nb_path = tmp_path / src.name
    shutil.copy(src, nb_path)
    before = claims.source_hash(nb_path)
    assert add_launch_cell.add_to_ipynb(nb_path, add_launch_cell.cell_source("https://example.org/x", "main"))
    assert any("launch-install" in c["metadata"].get("tags", []) for c in json.loads(nb_path.read_text())["cells"])
    assert claims.source_hash(nb_path) == before
    nb = json.loads(nb_path.read_text())
    code = next(c for c in reversed(nb["cells"]) if c["cell_type"] == "code")
    code["source"] = ["# a comment, and the code reformatted\n", *code["source"], "\n\n"]
    nb["cells"][-1]["source"] += ["\nprose"] if nb["cells"][-1]["cell_type"] == "markdown" else []
    nb_path.write_text(json.dumps(nb))
    assert claims.source_hash(nb_path) == before
    code["source"] += ["x = 1\n"]
    nb_path.write_text(json.dumps(nb))
    assert claims.source_hash(nb_path) != before


def test_t_margin_uses_the_t_quantile_of_n_minus_1_degrees():
    s = claims.summary([1.0, 2.0, 3.0, 4.0, 5.0])   # se = sqrt(2.5 / 5)
    assert claims.t_margin(s) == pytest.approx(2.7764451 * (0.5 ** 0.5), rel=1e-6)
    assert claims.t_margin(s, 0.99) == pytest.approx(4.6040949 * (0.5 ** 0.5), rel=1e-6)
    with pytest.raises(ValueError, match="confidence"):
        claims.t_margin(s, 1.5)
    with pytest.raises(ValueError, match="summary_"):
        claims.t_margin({"mean": 1.0})


def test_the_code_fingerprint_is_the_same_on_every_python():
    """Python 3.12 gives every function an empty ``type_params`` and 3.13's ast.dump leaves empty fields
    out: the fingerprint must not move with them, or every audit would be stale on another Python."""
    import ast

    tree = ast.parse("def f(x):\n    return x + 1\n")
    before = claims.canonical(tree)
    tree.body[0].type_params = []            # what 3.12 adds
    tree.body[0]._fields = (*tree.body[0]._fields, "type_params")
    assert claims.canonical(tree) == before
    assert claims.canonical(ast.parse("def f(x):\n    return x + 2\n")) != before
    assert claims.canonical(ast.parse("def f(x):  # a comment\n    return (x + 1)\n")) == before
