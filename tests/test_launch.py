"""The launch path: what Binder and Colab get when a reader presses a launch button.

- one repository URL (``_config.yml``: ``repository.url``) feeds the buttons, the launch cell and
  the package metadata;
- ``.binder/`` installs the pinned environment, then the package after the repository is copied;
- ``tools/add_launch_cell.py`` writes the install-if-missing cell into a notebook and its twin;
- the package built from a clean checkout (``git archive HEAD``) into a fresh virtual environment,
  without the repository on the path, runs a notebook copied out of the repository (as Colab does).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import add_launch_cell  # noqa: E402

SMALL = ROOT / "notebooks" / "foundations" / "01_mixing_and_the_mixup_loss.ipynb"


def test_one_repository_url_feeds_buttons_cell_and_package():
    url, branch = add_launch_cell.repository()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["html"]["use_repository_button"] and config["launch_buttons"]["colab_url"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Homepage"] == url
    assert f"git+{url}@{branch}" in add_launch_cell.cell_source(url, branch)


def test_binder_environment_is_environment_yml_without_the_package():
    main = yaml.safe_load((ROOT / "environment.yml").read_text())
    binder = yaml.safe_load((ROOT / ".binder" / "environment.yml").read_text())
    pip = lambda env: next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))  # noqa: E731
    assert [p for p in pip(main) if not p.startswith("-e")] == pip(binder)
    assert [d for d in main["dependencies"] if not isinstance(d, dict)] == \
        [d for d in binder["dependencies"] if not isinstance(d, dict)]
    post = ROOT / ".binder" / "postBuild"
    assert os.access(post, os.X_OK) and re.search(r"pip install .*-e \.", post.read_text())


def _pair(tmp_path) -> Path:
    for suffix in (".ipynb", ".md"):
        shutil.copy(SMALL.with_suffix(suffix), tmp_path / SMALL.with_suffix(suffix).name)
    return tmp_path / SMALL.name


def test_launch_cell_goes_first_in_notebook_and_twin_once(tmp_path, monkeypatch):
    import jupytext

    # where the cell goes, not what it pins (tests/test_paper_scale_safety.py): HEAD counts as holding
    # the working tree's library even while src/ has uncommitted changes
    monkeypatch.setattr(add_launch_cell, "library_matches", lambda ref: True)
    nb_path = _pair(tmp_path)
    stale = add_launch_cell.cell_source("https://example.org/a-fork", "dev")
    add_launch_cell.add_to_ipynb(nb_path, stale)             # a cell from another URL is replaced
    add_launch_cell.add_to_md(nb_path.with_suffix(".md"), stale)
    assert add_launch_cell.main([str(nb_path), "--check"]) == 1
    assert add_launch_cell.main([str(nb_path)]) == 0
    twin_text = nb_path.with_suffix(".md").read_text()
    ipynb_text = nb_path.read_text()
    assert add_launch_cell.main([str(nb_path)]) == 0          # a second run changes nothing
    assert nb_path.read_text() == ipynb_text and nb_path.with_suffix(".md").read_text() == twin_text
    assert add_launch_cell.main([str(nb_path), "--check"]) == 0
    cells = json.loads(ipynb_text)["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "launch-install" in code[0]["metadata"]["tags"] and not code[0]["outputs"]
    assert "parameters" in code[1]["metadata"]["tags"]
    strip = lambda cs: [(c["cell_type"], "".join(c["source"]).strip()) for c in cs]  # noqa: E731
    assert strip(jupytext.read(nb_path.with_suffix(".md"))["cells"]) == strip(cells)
    # everything else is untouched
    assert sum("launch-install" in c["metadata"].get("tags", []) for c in cells) == 1
    assert "example.org" not in ipynb_text + twin_text
    others = lambda cs: [c for c in cs if "launch-install" not in c["metadata"].get("tags", [])]  # noqa: E731
    assert others(cells) == others(json.loads(SMALL.read_text())["cells"])


def _fresh_venv(tmp_path: Path) -> Path:
    """A new venv that sees the main environment's third-party packages (torch etc.) through a .pth
    line to a folder of links to them; mixupbook's own entries (the editable install) are left out."""
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    py = env / "bin" / "python"
    site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    main_site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()))
    shared = tmp_path / "third_party"
    shared.mkdir()
    for entry in main_site.iterdir():
        if entry.name.startswith(("mixupbook", "__editable__", "_mixupbook")) or entry.suffix == ".pth":
            continue
        (shared / entry.name).symlink_to(entry)
    (site / "third_party.pth").write_text(f"{shared}\n")
    return py


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))}
    return {**env, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}


@pytest.mark.skipif(not (ROOT / ".git").exists() or not shutil.which("git"), reason="not a git checkout")
def test_wheel_from_a_clean_checkout_runs_a_notebook_in_a_fresh_venv(tmp_path):
    # 1. the committed tree only, as a fresh clone would have it
    src = tmp_path / "checkout"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    # 2. its wheel (the main environment's setuptools builds it: no index needed)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(src)], check=True, env=_clean_env())
    (wheel,) = dist.glob("mixupbook-*.whl")
    py = _fresh_venv(tmp_path)
    env, work = _clean_env(), tmp_path / "colab"
    work.mkdir()
    missing = subprocess.run([py, "-c", "import mixupbook"], cwd=work, env=env, capture_output=True)
    assert missing.returncode != 0, "the fresh venv must not see the repository's mixupbook"
    # 3. the launch cell's install branch, with the wheel in place of the repository URL (no internet here)
    url, branch = add_launch_cell.repository()
    cell = add_launch_cell.cell_source(url, branch).replace(f"mixupbook @ git+{url}@{branch}", str(wheel))
    cell += "\nimport mixupbook\nprint(mixupbook.__file__)"
    ran = subprocess.run([py, "-m", "pip", "--version"], cwd=work, env=env, capture_output=True)
    if ran.returncode != 0:   # a venv without pip: the launch cell needs one (Colab has it)
        subprocess.run([py, "-m", "ensurepip", "-q"], cwd=work, env=env, check=True)
    out = subprocess.run([py, "-c", cell], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().startswith(str(tmp_path / "venv")), out.stdout
    # 4. a notebook copied out of the repository runs there, with its launch cell doing nothing
    nb = work / SMALL.name
    shutil.copy(src / SMALL.relative_to(ROOT), nb)
    add_launch_cell.add_to_ipynb(nb, add_launch_cell.cell_source(url, branch))
    run = subprocess.run([py, "-m", "papermill", "--cwd", str(work), "-k", "python3", str(nb), str(work / "out.ipynb")],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    cells = json.loads((work / "out.ipynb").read_text())["cells"]
    assert not any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))
    assert "mixupbook @ git+" in "".join(cells[[c["cell_type"] for c in cells].index("code")]["source"])
