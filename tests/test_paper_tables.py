"""The paper-tables page: published numbers beside paper-scale records, "not yet run" otherwise."""
import pytest

from mixupbook.paper_tables import NOT_RUN, TARGETS, by_setting, paper_table
from mixupbook.results import SCHEMA_VERSION, paper_numbers, write_json_atomic


def _record(path, seed, scale="paper", **final):
    config = {"name": "kimura_gap_cifar10", "scale": scale, "dataset": "cifar10", "model": "resnet18_cifar",
              "method": "mixup", "method_kwargs": {"alpha": 1.0}, "seed": seed}
    env = {"device_name": "NVIDIA H100", "date": f"2026-11-2{seed}T10:00:00+00:00"}
    write_json_atomic({"schema": SCHEMA_VERSION, "key": "k", "config": config, "env": env, "final": final},
                      path / "kimura2021" / "kimura_gap_cifar10" / f"k-seed{seed}.json")


@pytest.mark.parametrize("key", sorted(TARGETS))
def test_every_target_is_a_published_number_and_not_yet_run_without_records(key, tmp_path):
    table = paper_table(key, tmp_path)
    assert len(table) > 0 and set(table.ours) == {NOT_RUN} and set(table.seeds) == {0}
    assert len(table) <= len(paper_numbers(key))


def test_paper_scale_records_fill_their_row_and_only_it(tmp_path):
    _record(tmp_path, 0, gap_loss=0.10)
    _record(tmp_path, 1, gap_loss=0.14)
    _record(tmp_path, 2, scale="book", gap_loss=9.0)   # a book-scale record never counts
    table = paper_table("kimura2021", tmp_path)
    row = table[(table.dataset == "cifar10") & (table.alpha == 1.0)].iloc[0]
    assert row.ours == "0.12 ± 0.03" and row.seeds == 2 and row.hardware == "NVIDIA H100" and row.date == "2026-11-21"
    assert row.paper == "0.093"
    assert (table.ours == NOT_RUN).sum() == len(table) - 1


def test_unknown_paper_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="valid:.*zou2023"):
        paper_table("nope", tmp_path)


@pytest.mark.parametrize("key", sorted(TARGETS))
def test_by_setting_keeps_every_published_number_once(key, tmp_path):
    table = paper_table(key, tmp_path)
    blocks = by_setting(table)
    cells = [c for b in blocks for row in b["rows"] for c in row[len(row) - len(b["values"]):] if c]
    assert len(cells) == len(table) and all(c.endswith(" / —") for c in cells)
    for b in blocks:
        assert all(len(row) == len(b["header"]) for row in b["rows"])


def test_by_setting_is_a_row_per_setting_and_a_column_per_method(tmp_path):
    (t1a,) = [b for b in by_setting(paper_table("zou2023", tmp_path)) if b["source"] == "Table 1a"]
    assert t1a["header"] == ["model", "erm", "mixup", "mixupe"] and len(t1a["rows"]) == 3
    assert t1a["fixed"]["dataset"] == "CIFAR-10" and t1a["fixed"]["paper"] == "5 seeds"
    _record(tmp_path, 0, gap_loss=0.10)
    _record(tmp_path, 1, gap_loss=0.14)
    (kimura,) = by_setting(paper_table("kimura2021", tmp_path))
    assert kimura["spread"] == "alpha" and kimura["header"][0] == "dataset"
    row = kimura["rows"][[r[0] for r in kimura["rows"]].index("cifar10")]
    assert row[kimura["header"].index("1")] == "0.093 / 0.12 ± 0.03 (2 seeds)"
    assert kimura["runs"][[r[0] for r in kimura["rows"]].index("cifar10")] == "NVIDIA H100, 2026-11-21"
    assert sum(c.endswith("/ —") for r in kimura["rows"] for c in r[1:]) == len(paper_table("kimura2021", tmp_path)) - 1
