"""claims.json as a reproducibility record: a documented schema, structured evidence, the source of
each claim's condition (so a loosened threshold shows), a link to the card and the per-seed audit."""
import json
import shutil
from pathlib import Path

from mixupbook import claims

ROOT = Path(__file__).resolve().parents[1]


def test_every_field_of_the_schema_is_documented():
    props = claims.SCHEMA["properties"]["claims"]["items"]["properties"]
    undocumented = [k for k, v in props.items() if k not in ("erratum", "reason", "record") and "description" not in v]
    assert not undocumented
    assert set(claims.SCHEMA["properties"]["claims"]["items"]["required"]) <= set(props)


def test_export_of_the_book_validates_and_structures_evidence():
    data = claims.export(ROOT, "c0ffee", "2026-12-07")
    claims.validate(data)
    assert data["version"] == 2 and data["generated"] == {"commit": "c0ffee", "date": "2026-12-07"}
    means = [v for c in data["claims"] for v in c["values"] if v["se"] is not None]
    assert means and all(isinstance(v["value"], float) and v["se"] >= 0 for v in means)
    checked = [c for c in data["claims"] if c["held"] is not None]
    assert sum(c["condition"] is not None for c in checked) >= 0.8 * len(checked)
    assert all(c["url"] == f"{c['notebook']}.html#{c['label']}" for c in data["claims"])


def test_structured_reads_a_mean_with_its_standard_error():
    assert claims.structured("gap", "-0.099 +- 0.010", [0, 1, 2]) == \
        {"name": "gap", "value": -0.099, "se": 0.010, "n": 3, "text": None}
    assert claims.structured("x", 0.5)["value"] == 0.5 and claims.structured("x", "n/a")["text"] == "n/a"


def test_a_loosened_threshold_changes_the_exported_condition(tmp_path):
    """The tolerance on a card is typed by hand; the condition exported beside it is the code asserted."""
    src = ROOT / "notebooks" / "foundations" / "02_label_weight_and_lambda_laws.ipynb"
    dest = tmp_path / "notebooks" / "foundations" / src.name
    dest.parent.mkdir(parents=True)
    shutil.copy(src, dest)
    before = {c["label"]: c["condition"] for c in claims.export(tmp_path)["claims"]}
    label, cond = next((k, v) for k, v in before.items() if v and "1e-9" in v)
    nb = json.loads(dest.read_text())
    for cell in nb["cells"]:
        cell["source"] = [line.replace("1e-9", "0.5") for line in cell["source"]] if cell["cell_type"] == "code" \
            else cell["source"]
    dest.write_text(json.dumps(nb))
    after = {c["label"]: c["condition"] for c in claims.export(tmp_path)["claims"]}
    assert after[label] == cond.replace("1e-9", "0.5") != cond
