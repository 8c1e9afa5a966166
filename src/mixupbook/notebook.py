"""Helpers for the book's notebooks: the checks of the ``parameters`` cell and the dry run.

Every notebook's first code cell (tagged ``parameters``) sets ``scale``, ``device``,
``seed``, ``data_root``, ``results_dir`` and ``dry_run``; its second cell calls
``setup(...)``, which checks them before any work and returns the resolved values.
A paper-scale notebook builds its ``ExperimentConfig`` list, then calls
``dry_run_stop(dry_run, configs)``: with ``dry_run=True`` it prints the plan of every
config and turns each later cell into a no-op, so ``papermill -p dry_run True``
finishes cleanly without training (the sweep's ``--dry-run`` relies on this).

``setup`` also refuses a parameter papermill injected that the notebook does not declare (``-p
alhpa 0.5`` names ``alhpa`` and the valid names instead of running with the default) and reads
booleans strictly (``-r dry_run no`` is False; ``-r dry_run maybe`` is an error). At paper scale a
sweep runs one seed per point: ``gather_seeds`` finds the seeds whose records its other points
wrote to ``results_dir``, and ``enough_seeds`` says when statistics over seeds must wait for them.
"""
from __future__ import annotations

import ast
import difflib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import claims, cost
from .experiment import SCALES, ExperimentConfig, as_bool, check_writable, plan, seed_records
from .plots import set_style
from .train import resolve_device


# The CPU kernel set the stored outputs were written under (the Makefile's PIN on x86-64; see there why).
# Other machines reproduce them within the rule of mixupbook.compare, not to the digit.
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                  "OPENBLAS_CORETYPE": "Haswell"}
PINNED_THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class Context:
    scale: str
    device: torch.device
    seed: int
    data_root: str
    results_dir: str
    dry_run: bool
    chapter: str = "misc"
    _claims: dict = field(default_factory=dict, repr=False)   # claims per item, for their labels

    @property
    def paper(self) -> bool:
        return self.scale == "paper"

    def claim(self, item: str, claim: str, verdict: str, **kwargs) -> None:
        """Record the verdict on paper item ``item`` with its evidence (see ``mixupbook.claims``).

        Returns nothing, so a claim as a cell's last line shows only its card.
        """
        claims.claim(item, claim, verdict, counts=self._claims, **kwargs)


def repo_root(start: Path | None = None) -> Path:
    """The book's root (the folder holding ``_toc.yml``), searched upward from ``start`` or the cwd."""
    here = (start or Path.cwd()).resolve()
    for p in [here, *here.parents]:
        if (p / "_toc.yml").exists():
            return p
    return here


def setup(scale: str = "book", device: str = "auto", seed: int = 0, data_root: str = "data",
          results_dir: str | None = None, dry_run: bool = False, chapter: str = "misc") -> Context:
    """Validate the common parameters, apply the figure style, resolve ``results_dir``.

    ``results_dir=None``: a fresh temporary folder at book scale (re-execution trains
    again instead of reading old records), ``results/<chapter>`` of the repository at
    paper scale (kept, and read by the paper-tables page).
    """
    check_injected_parameters()
    if scale not in SCALES:
        raise ValueError(f"scale: unknown {scale!r}; valid: {list(SCALES)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    dry_run = as_bool("dry_run", dry_run)
    dev = resolve_device(device)
    if results_dir is None:
        results_dir = (str(repo_root() / "results" / chapter) if scale == "paper"
                       else tempfile.mkdtemp(prefix=f"mixupbook-{chapter}-"))
    if scale == "paper" and not dry_run:
        check_writable(results_dir)   # before any work, not after the first epoch
    root = Path(data_root).expanduser()
    if not root.is_absolute():
        root = repo_root() / root
    set_style()
    if scale == "book":
        # One CPU thread: float reductions then run in one order whatever the core count, so the
        # stored outputs reproduce (exactly under the pin, within mixupbook.compare's rule elsewhere).
        torch.set_num_threads(1)
    torch.manual_seed(seed)
    return Context(scale, dev, seed, str(root), str(results_dir), dry_run, chapter)


def _assigned(source: str) -> dict:
    """``{name: value node}`` of the top-level assignments of a cell's source."""
    out = {}
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name):
                out[t.id] = node.value
    return out


def check_injected_parameters() -> None:
    """Refuse parameters papermill injected that the notebook's ``parameters`` cell does not declare,
    and read injected booleans strictly.

    Papermill only warns about an unknown name (``-p alhpa 0.5``) and runs with the default; here it
    is a ``ValueError`` naming it, the nearest valid name and every valid one. A parameter whose
    default is ``True``/``False`` given as text (``-r dry_run no``) is read as a boolean
    (``as_bool``) in the notebook's namespace, or refused. Outside papermill (no injected cell) this
    does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    hist = list(ip.history_manager.input_hist_raw)
    at = next((i for i in range(len(hist) - 1, 0, -1) if hist[i].split("\n", 1)[0].strip() == "# Parameters"), None)
    if at is None:
        return
    try:
        injected, declared = _assigned(hist[at]), _assigned(hist[at - 1])
    except SyntaxError:
        return
    unknown = sorted(set(injected) - set(declared))
    if unknown:
        hints = [f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, declared, n=1)) else repr(u)
                 for u in unknown]
        raise ValueError(f"parameters: unknown {', '.join(hints)}; this notebook's parameters are "
                         f"{sorted(declared)}")
    for name, default in declared.items():
        if name in injected and isinstance(default, ast.Constant) and isinstance(default.value, bool):
            ip.user_ns[name] = as_bool(name, ip.user_ns.get(name))


def gather_seeds(configs: list[ExperimentConfig], suffix: str = "") -> list[int]:
    """The seeds at which every configuration of ``configs`` has a record under its ``results_dir``
    (``experiment.seed_records``): at paper scale, every seed a sweep's points have finished."""
    found = [set(seed_records(c, suffix)) for c in configs]
    return sorted(set.intersection(*found)) if found else []


def enough_seeds(seeds, what: str = "statistics over seeds and claims", need: int = 2) -> bool:
    """True with at least ``need`` seeds; otherwise print that ``what`` is skipped, and why."""
    seeds = list(seeds)
    if len(seeds) >= need:
        return True
    print(f"{what}: skipped, records of {len(seeds)} seed(s) {seeds} found and a standard error needs at "
          f"least {need}. A paper-scale sweep trains one seed per point: run its other points "
          "(python -m mixupbook.sweep experiments/SPEC.yaml); this notebook then reads every seed's "
          "records from results_dir.")
    return False


def dry_run_stop(dry_run: bool, configs: list[ExperimentConfig], seeds: list[int] | None = None) -> None:
    """With ``dry_run``: print each config's plan and make every later cell a no-op."""
    if not dry_run:
        return
    plans = [plan(c, seeds) for c in configs]
    for p in plans:
        print(" | ".join(f"{k}={v}" for k, v in p.items()))
    pflop, gops = sum(p["train_PFLOP"] for p in plans), sum(p["train_Gops"] for p in plans)
    print(f"dry run: {len(plans)} configuration(s) valid; total {pflop:.3f} PFLOP and {gops:.4g} G ATen ops, "
          f"{cost.describe(pflop, gops * 1e9)}; later cells skipped")
    _skip_later_cells()


def show_table(frame, **fmt) -> None:
    """Show a DataFrame as an HTML table in the book and as its ``to_string(**fmt)`` text elsewhere.

    ``fmt`` takes ``to_string``'s formatting arguments that ``to_html`` shares (``index``,
    ``float_format``, ``formatters``, ``na_rep``, ...), so both forms print the same digits.
    """
    from IPython.display import display
    display({"text/plain": frame.to_string(**fmt),
             "text/html": frame.to_html(border=0, classes="dataframe book-table", **fmt)}, raw=True)


def _skip_later_cells() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        ip.input_transformers_post.append(lambda lines: ["pass  # skipped: dry run\n"])
