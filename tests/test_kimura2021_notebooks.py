"""The paper-scale grid of notebooks/kimura2021/05_generalisation_gap (K5) is valid: a dry run
through papermill finishes without data and without training (chapter kimura2021)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks" / "kimura2021" / "05_generalisation_gap.ipynb"


def _outputs(path):
    nb = json.loads(Path(path).read_text())
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            text = o.get("text") or o.get("data", {}).get("text/plain", "")
            out.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(out)


def test_paper_scale_dry_run(tmp_path):
    # one of the four datasets keeps the test short; its grid (ERM + 7 alphas, 10 seeds) is complete
    out = tmp_path / "k5.ipynb"
    subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(NB.parent), str(NB), str(out),
                    "-p", "scale", "paper", "-p", "dry_run", "True", "-p", "paper_datasets", "cifar10",
                    "-p", "data_root", str(tmp_path / "no_data"), "-p", "results_dir", str(tmp_path / "res")],
                   check=True, capture_output=True, timeout=600)
    text = _outputs(out)
    assert "dry run: 8 configuration(s) valid" in text
    assert "model=resnet18_cifar" in text and "epochs=200" in text and "seeds=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in text
    assert "MISSING" in text                      # no data was needed
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").rglob("*.json"))  # nothing trained


def test_bad_paper_dataset_is_rejected(tmp_path):
    out = tmp_path / "k5.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(NB.parent), str(NB),
                           str(out), "-p", "scale", "paper", "-p", "dry_run", "True", "-p", "paper_datasets", "mnist"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "paper_datasets" in (proc.stdout + proc.stderr)
