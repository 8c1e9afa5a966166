"""The seed audit (``mixupbook.audit``): fresh seeds nobody picks, per-seed evidence and provenance,
and a failure or a changed verdict at any seed reported."""
import json
from pathlib import Path

import nbformat
import pytest

from mixupbook import audit, claims


def test_fresh_seeds_come_from_the_commit_and_the_date():
    a = audit.fresh_seeds(3, "abc123", "2026-12-07")
    assert a == audit.fresh_seeds(3, "abc123", "2026-12-07") and len(set(a)) == 3
    assert a != audit.fresh_seeds(3, "abc123", "2026-12-08") and a != audit.fresh_seeds(3, "abc124", "2026-12-07")
    assert all(1000 <= s < 10**6 for s in a) and not set(a) & set(audit.REGRESSION_SEEDS)
    assert audit.fresh_seeds(0, "x", "y") == []
    with pytest.raises(ValueError, match="n"):
        audit.fresh_seeds(-1, "x", "y")


def _notebook(root: Path) -> Path:
    """A notebook whose claim holds at every seed but 13 and whose data-chosen verdict flips at 14."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("seed = 0")
    params.metadata["tags"] = ["parameters"]
    body = ("from mixupbook import claims\n"
            "claims.claim('F1', 'a sampled statement', 'holds', holds=seed != 13, seeds=[seed], evidence={'v': seed})\n"
            "v = 'holds' if seed != 14 else 'holds narrowly'\n"
            "claims.claim('F1', 'a data-chosen verdict', v, holds=True, seeds=[seed], key='chosen')\n")
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = root / "notebooks" / "foundations" / "99_tiny.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    import papermill as pm
    pm.execute_notebook(str(path), str(path), progress_bar=False, kernel_name="python3")
    return path


def test_audit_records_evidence_and_provenance_per_seed_and_reports_failures(tmp_path):
    nb = _notebook(tmp_path)
    meta = {"commit": "c0ffee", "date": "2026-12-07", "kernel": {"cpu": "test"}}
    rec = audit.audit_notebook(tmp_path, nb, seeds=[12, 13, 14], fresh=[14], meta=meta)
    stored = json.loads(claims.audit_path(tmp_path, nb).read_text())
    assert stored == rec and rec["seeds"] == [0, 12, 13, 14] and rec["fresh_seeds"] == [14]
    assert rec["commit"] == "c0ffee" and rec["kernel"] == {"cpu": "test"}
    first, chosen = rec["claims"]["claim-f1"], rec["claims"]["claim-f1-chosen"]
    assert first["held"] == [True, True, False, True]
    assert first["evidence"] == [[["v", 0]], [["v", 12]], [["v", 13]], [["v", 14]]]
    assert chosen["verdicts"] == ["holds", "holds", "holds", "holds narrowly"]
    assert audit.failures(rec) == ["claim-f1", "claim-f1-chosen"]


def test_a_stored_claim_whose_condition_failed_is_a_problem():
    """A record written with MIXUPBOOK_AUDIT set in the shell keeps held = False: never shown as holding."""
    rec = {**claims.make_record("F1", "x", "holds", holds=False), "label": "claim-f1", "notebook": "notebooks/f/01"}
    assert any("did not hold" in e for e in claims.problems([rec], []))
    assert not any("did not hold" in e for e in claims.problems([{**rec, "held": True}], []))


def test_fresh_seeds_append_to_a_current_audit_and_a_stale_one_is_refused(tmp_path):
    nb = _notebook(tmp_path)
    meta = {"commit": "c0ffee", "date": "2026-12-07", "kernel": {"cpu": "test"}}
    first = audit.audit_notebook(tmp_path, nb, seeds=[11, 12], meta=meta)
    merged = audit.add_seeds(tmp_path, nb, first, [13], {**meta, "date": "2026-12-08"})
    assert merged["seeds"] == [0, 11, 12, 13] and merged["fresh_seeds"] == [13]
    assert merged["claims"]["claim-f1"]["held"] == [True, True, True, False]
    assert merged["claims"]["claim-f1"]["evidence"][-1] == [["v", 13]]
    assert merged["date"] == "2026-12-08" and merged["earlier"][0]["seeds"] == [0, 11, 12]
    assert json.loads(claims.audit_path(tmp_path, nb).read_text()) == merged
    with pytest.raises(ValueError, match="stale"):
        audit.add_seeds(tmp_path, nb, {**first, "source_hash": "0"}, [14])


def test_problems_finds_every_way_an_audit_fails_to_cover_the_stored_claims(tmp_path):
    nb = _notebook(tmp_path)
    assert audit.problems(tmp_path, nb) == [f"{nb.relative_to(tmp_path)}: no seed audit "
                                            f"(make audit-seeds AUDIT='--notebooks {nb.relative_to(tmp_path)}')"]
    meta = {"commit": "c0ffee", "date": "2026-12-07", "kernel": {}}
    rec = audit.audit_notebook(tmp_path, nb, seeds=[11, 12], meta=meta)
    assert audit.problems(tmp_path, nb) == []
    path = claims.audit_path(tmp_path, nb)
    for change, found in [
        (lambda r: r["claims"]["claim-f1"]["held"].__setitem__(2, False), "held [True, True, False]"),
        (lambda r: r["claims"]["claim-f1"].__setitem__("verdict", "fails"), "audited as 'fails'"),
        (lambda r: r["claims"]["claim-f1-chosen"]["verdicts"].__setitem__(1, "holds narrowly"), "verdicts at"),
        (lambda r: r.__setitem__("source_hash", "0"), "stale"),
        (lambda r: r.__setitem__("library_hash", "0"), "the library code it imports"),
        (lambda r: r.pop("library_hash"), "the library code it imports"),   # an audit from before the hash
    ]:
        broken = json.loads(json.dumps(rec))
        change(broken)
        path.write_text(json.dumps(broken))
        assert any(found in e for e in audit.problems(tmp_path, nb)), found


def test_library_hash_follows_the_code_a_notebook_imports_and_nothing_else(tmp_path):
    """An audit goes stale when library code the notebook runs changes (directly imported, imported by
    that, or loaded by a registry by computed name), not for a docstring, a comment or a module it
    never imports."""
    pkg = tmp_path / "mixupbook"
    files = {
        "__init__.py": '"""The package."""\n',
        "a.py": "from . import b\n\n\ndef f():\n    from .reg import build\n    return b.g() + build()\n",
        "b.py": '"""Module b."""\n\n\ndef g():\n    """Doc."""\n    return 1  # a comment\n',
        "c.py": "def h():\n    return 2\n",
        "reg/__init__.py": "import importlib\n\nfor m in ['m']:\n    importlib.import_module(f'{__name__}.{m}')\n\n\ndef build():\n    return 0\n",
        "reg/m.py": "X = 1\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("`import mixupbook.c` in prose is not code"),
                nbformat.v4.new_code_cell("from mixupbook import a\nprint(a.f())")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)

    def edit(name, old, new):
        (pkg / name).write_text((pkg / name).read_text().replace(old, new))
        import os
        os.utime(pkg / name, ns=(1, (pkg / name).stat().st_mtime_ns + 10**9))  # a new mtime for the cache
        return claims.library_hash(path, pkg)

    before = claims.library_hash(path, pkg)
    assert edit("b.py", "Doc.", "Other doc.") == before
    assert edit("b.py", "a comment", "another comment") == before
    assert edit("c.py", "2", "3") == before                       # never imported
    assert edit("b.py", "return 1", "return 2") != before         # imported by a
    before = claims.library_hash(path, pkg)
    assert edit("reg/m.py", "X = 1", "X = 2") != before           # loaded by the registry's import_module
    before = claims.library_hash(path, pkg)
    assert edit("__init__.py", '"""The package."""', '"""The package."""\nY = 0') != before
