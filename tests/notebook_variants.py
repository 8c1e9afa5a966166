"""Variants defined in notebooks: the cells tagged ``register-variant`` (chapter ``extending``).

Such a cell holds its own imports and only defines and registers objectives, so it can run
outside its notebook. ``register_notebook_variants`` executes each one, as a module named after
its notebook, and returns the names each notebook added to ``methods.OBJECTIVES``; the registry's
parametrized tests (``tests/test_methods.py``) then test them like the library's own objectives.
"""
import json
from pathlib import Path

from mixupbook.methods import OBJECTIVES

ROOT = Path(__file__).resolve().parents[1]
TAG = "register-variant"


def variant_cells(path: Path) -> list[str]:
    """Sources of the code cells of notebook ``path`` tagged ``register-variant``."""
    cells = json.loads(Path(path).read_text())["cells"]
    return ["".join(c["source"]) for c in cells
            if c["cell_type"] == "code" and TAG in c.get("metadata", {}).get("tags", [])]


def register_notebook_variants(pattern: str = "notebooks/extending/[0-9]*.ipynb") -> dict[str, list[str]]:
    """Execute every ``register-variant`` cell of the notebooks matching ``pattern``.

    Returns {notebook file name: names its cells registered}. Running it again re-registers the
    same classes, which ``methods.register`` accepts as redefinitions.
    """
    added = {}
    for path in sorted(ROOT.glob(pattern)):
        module = f"notebook:{path.relative_to(ROOT / 'notebooks').with_suffix('').as_posix()}"
        for source in variant_cells(path):
            exec(compile(source, str(path), "exec"), {"__name__": module})
        added[path.name] = sorted(n for n, cls in OBJECTIVES.items() if cls.__module__ == module)
    return added
