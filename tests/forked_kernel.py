"""Execute a notebook as papermill does, in a fork of a process that has already imported the book's
library: milliseconds to start instead of the seconds a Jupyter kernel and ``import torch`` take.

The tests that check what a notebook does with its parameters (bad values stop early, paper-scale
dry runs, post-training cells on fabricated records) run dozens of notebooks; with a kernel each,
starting kernels was most of the library tests' time. Here one server process per pytest process
(``execute``) imports torch, the library, matplotlib and IPython once, trains nothing (so no
OpenMP thread pool exists to break in a fork), and forks a child per notebook. The child injects the
parameters with papermill's own ``parameterize_notebook``, runs the code cells in order in an
IPython shell (``store_history``: the injected cell is read back by
``notebook.check_injected_parameters``), records stream, display and result outputs, and stops at
the first error, which the caller gets as papermill's ``PapermillExecutionError``. Figures are drawn
by the inline backend as in a kernel, and pandas prints tables at a kernel's width (a paper-scale
notebook's outputs here and through papermill were compared and are the same text). What is not the
same: a cell's outputs are recorded by kind (stdout, stderr, displays, its value), not interleaved.
The notebooks' stored outputs are still compared through real kernels (nbval), and a few tests still
start papermill itself (``test_notebooks``, ``test_shown_commands``, the sweep tests). Measured on 2
cores: the library tests took 529 s with a kernel per notebook, 263 s with this.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_SERVER = None
_LOCK = threading.Lock()


def execute(src, out, parameters: dict | None = None, cwd=None) -> None:
    """``papermill.execute_notebook(src, out, parameters=..., cwd=...)``, forked; raises
    ``papermill.PapermillExecutionError`` at the first failing cell (``out`` is written either way)."""
    import papermill as pm

    global _SERVER
    request = {"src": str(src), "out": str(out), "parameters": parameters or {},
               "cwd": str(cwd or Path(src).parent), "env": dict(os.environ)}
    with _LOCK:
        if _SERVER is None or _SERVER.poll() is not None:
            _SERVER = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)
            atexit.register(_SERVER.kill)
        _SERVER.stdin.write(json.dumps(request) + "\n")
        _SERVER.stdin.flush()
        reply = json.loads(_SERVER.stdout.readline() or '{"crash": "the notebook server died"}')
    if "crash" in reply:
        raise RuntimeError(f"{src}: {reply['crash']}")
    if reply.get("error"):
        e = reply["error"]
        raise pm.PapermillExecutionError(e["cell_index"], e["exec_count"], e["source"], e["ename"], e["evalue"],
                                         e["traceback"])


def _run(request: dict) -> dict:
    """In the forked child: the whole notebook; returns {"error": ...} or {}."""
    import traceback

    import nbformat
    import pandas
    from IPython.core.displayhook import DisplayHook
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    from traitlets.config import Config

    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.path[0] = ""   # as in a kernel: the working directory, not this file's folder
    results = []

    class Results(DisplayHook):   # a cell's value becomes an execute_result, not an "Out[n]:" line
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            results.append(format_dict)

    class ZMQLikeShell(InteractiveShell):
        """Named so that pandas' ``in_ipython_frontend`` (``"zmq" in`` the shell's type) reads a kernel
        and sizes tables as in a notebook, not by a terminal's width."""

    pandas.set_option("display.max_columns", 20)   # pandas' default when imported in a kernel (0 in a terminal)

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = ZMQLikeShell.instance(config=config, displayhook_class=Results)
    shell.enable_gui = lambda gui=None: None
    shell.showtraceback = lambda *args, **kwargs: None   # a kernel sends an error output, printed nowhere
    shell.enable_matplotlib("inline")   # figures drawn and shown at the end of each cell, as in a kernel
    nb = parameterize_notebook(load_notebook_node(request["src"]), request["parameters"],
                               kernel_name="python3", language="python")
    for cell in nb.cells:   # as papermill starts: no stored outputs, nothing counted
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    error = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        results.clear()
        with capture_output() as cap:
            result = shell.run_cell(cell.source, store_history=True)
        cell.execution_count = shell.execution_count - 1
        cell.outputs = [nbformat.v4.new_output("stream", name=name, text=text)
                        for name, text in (("stdout", cap.stdout), ("stderr", cap.stderr)) if text]
        cell.outputs += [nbformat.v4.new_output("display_data", data=o.data, metadata=o.metadata or {})
                         for o in cap.outputs]
        cell.outputs += [nbformat.v4.new_output("execute_result", data=d, execution_count=cell.execution_count)
                         for d in results]
        exc = result.error_before_exec or result.error_in_exec
        if exc is not None:
            tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
            error = {"cell_index": index, "exec_count": cell.execution_count, "source": cell.source,
                     "ename": type(exc).__name__, "evalue": str(exc), "traceback": tb}
            cell.outputs.append(nbformat.v4.new_output("error", ename=error["ename"], evalue=error["evalue"],
                                                       traceback=tb))
            break
    nbformat.write(nb, request["out"])
    return {"error": error}


def _serve() -> None:
    """The server: import once, then fork a child per request line; reply a line of JSON each."""
    import matplotlib

    matplotlib.use("Agg")
    import IPython.core.interactiveshell  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import nbformat  # noqa: F401
    import papermill.parameterize  # noqa: F401
    import torch  # noqa: F401

    import mixupbook.experiment  # noqa: F401
    import mixupbook.notebook  # noqa: F401
    import mixupbook.plots  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            reply_file = f.name
        pid = os.fork()
        if pid == 0:
            os.dup2(2, 1)   # what escapes the capture must not reach the reply pipe
            try:
                reply = _run(request)
            except BaseException:  # noqa: BLE001 (the runner itself failed: say how)
                import traceback

                reply = {"crash": traceback.format_exc()}
            Path(reply_file).write_text(json.dumps(reply))
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        text = Path(reply_file).read_text()
        os.unlink(reply_file)
        reply = json.loads(text) if status == 0 and text else {"crash": f"the child exited with status {status}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
