"""``forked_kernel.execute`` gives the outputs papermill gives, and papermill's error."""
import nbformat
import papermill as pm
import pytest

from forked_kernel import execute

CELLS = [
    "n = 3",
    "import sys\nimport matplotlib.pyplot as plt\nimport pandas as pd\n"
    "print('printed', n)\nprint('warned', file=sys.stderr)\n"
    "pd.DataFrame({f'a long column name {k}': [k / 7, k * 1e-9] for k in range(25)})",
    "from IPython.display import display\ndisplay({'text/plain': 'shown'}, raw=True)\n"
    "plt.plot([0, 1], [1, 0])\nplt.title('a figure')",
    "raise ValueError(f'n: stopped at {n}')",
    "print('never')",
]


def _notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _by_kind(path) -> list:
    """Each code cell's (execution count, text of its outputs by kind); figures as their kind alone."""
    out = []
    for c in nbformat.read(path, as_version=4).cells:
        if c.cell_type == "code":
            kinds = {}
            for o in c.outputs:
                if o.output_type == "stream":
                    kinds[o.name] = o.text
                elif o.output_type == "error":
                    kinds["error"] = (o.ename, o.evalue)
                else:
                    kinds.setdefault(o.output_type, []).append(sorted(o.data) if "image/png" in o.data
                                                               else o.data["text/plain"])
            out.append((c.execution_count, kinds))
    return out


def test_fork_gives_papermills_outputs_and_error(tmp_path):
    src = _notebook(tmp_path / "nb.ipynb")
    with pytest.raises(pm.PapermillExecutionError) as kernel:
        pm.execute_notebook(str(src), str(tmp_path / "kernel.ipynb"), parameters={"n": 5}, progress_bar=False,
                            kernel_name="python3")
    with pytest.raises(pm.PapermillExecutionError) as fork:
        execute(src, tmp_path / "fork.ipynb", parameters={"n": 5})
    assert (fork.value.ename, fork.value.evalue) == (kernel.value.ename, kernel.value.evalue) == \
        ("ValueError", "n: stopped at 5")
    expected = _by_kind(tmp_path / "kernel.ipynb")
    assert "..." in str(expected[2]) and expected[-1] == (None, {})   # pandas elided columns; the last never ran
    assert _by_kind(tmp_path / "fork.ipynb") == expected
