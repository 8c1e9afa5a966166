"""Variants defined in notebooks: the cells tagged ``register-variant`` (chapter ``extending``).

Such a cell holds its own imports and only defines and registers objectives, so it can run
outside its notebook. ``register_notebook_variants`` executes each one, as a module named after
its notebook, and returns the objectives each notebook's cells provide: those they register, or,
once a variant has been kept (moved into ``mixupbook.methods``, the cell reduced to importing its
class), the registered objectives the cells import. The registry's parametrized tests
(``tests/test_methods.py``, ``tests/test_fast_path.py``) then test them like the library's own.
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


def register_notebook_variants(pattern: str = "notebooks/extending/[0-9]*.ipynb",
                               root: Path = ROOT) -> dict[str, list[str]]:
    """Execute every ``register-variant`` cell of the notebooks matching ``pattern`` under ``root``.

    Returns {notebook file name: names its cells register, or if they register none, the names of
    the registered objectives they import}. Running it again re-registers the same classes, which
    ``methods.register`` accepts as redefinitions.
    """
    added = {}
    for path in sorted(Path(root).glob(pattern)):
        module = f"notebook:{path.relative_to(Path(root) / 'notebooks').with_suffix('').as_posix()}"
        imported = set()
        for source in variant_cells(path):
            namespace = {"__name__": module}
            exec(compile(source, str(path), "exec"), namespace)
            imported |= {id(v) for v in namespace.values() if isinstance(v, type)}
        defined = sorted(n for n, cls in OBJECTIVES.items() if cls.__module__ == module)
        added[path.name] = defined or sorted(n for n, cls in OBJECTIVES.items() if id(cls) in imported)
    return added
