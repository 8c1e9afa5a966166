"""pyproject.toml and environment.yml pin the same packages at the same versions."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> tuple[str, str]:
    name, _, version = re.split(r"(==)", req.strip(), maxsplit=1)
    return name.lower().replace("_", "-"), version


def test_pyproject_and_environment_yml_agree():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pinned = [p for p in pip if not p.startswith("-e")]
    assert all("==" in d for d in deps), "every dependency in pyproject.toml is pinned with =="
    assert sorted(map(_norm, deps)) == sorted(map(_norm, pinned))


def test_required_stack_is_pinned():
    deps = dict(map(_norm, tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]))
    assert deps["torch"] == "2.14.1" and deps["torchvision"] == "0.29.1"
    assert deps["jupyter-book"].startswith("1.")
    for pkg in ["myst-nb", "sphinx-proof", "sphinxcontrib-bibtex", "jupytext", "papermill", "nbval", "seaborn",
                "scikit-learn", "mnist1d", "pytest", "pandas", "tqdm", "matplotlib"]:
        assert pkg in deps, pkg
