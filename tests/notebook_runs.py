"""Run a book notebook as papermill does from a test (``forked_kernel``) and return the text of its outputs."""
import json
from pathlib import Path

from forked_kernel import execute as execute_notebook

ROOT = Path(__file__).resolve().parents[1]


def outputs_text(path) -> str:
    """All stream and text/plain outputs of an executed notebook, joined."""
    out = []
    for cell in json.loads(Path(path).read_text())["cells"]:
        for o in cell.get("outputs", []):
            text = o.get("text") or o.get("data", {}).get("text/plain", "")
            out.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(out)


def execute(notebook: str, tmp_path: Path, **params) -> str:
    """Execute ``notebooks/<notebook>.ipynb`` with ``params``; return its outputs' text."""
    src = ROOT / "notebooks" / f"{notebook}.ipynb"
    out = tmp_path / f"{src.stem}.out.ipynb"
    execute_notebook(src, out, parameters=params, cwd=src.parent)
    return outputs_text(out)


def paper_dry_run(notebook: str, tmp_path: Path, **params) -> str:
    """The paper-scale dry run of a notebook, without data; checks nothing was trained."""
    results = tmp_path / "res"
    text = execute(notebook, tmp_path, scale="paper", dry_run=True, data_root=str(tmp_path / "no_data"),
                   results_dir=str(results), **params)
    assert "later cells skipped" in text
    assert not results.exists() or not any(results.rglob("*.json")), "a dry run must not train"
    return text
