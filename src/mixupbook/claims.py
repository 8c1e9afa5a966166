"""Claims: the verdict on a paper item, recorded by the notebook cell that holds its evidence.

A notebook calls ``ctx.claim("Z11", "mixup's gap is smaller than ERM's", verdict=..., holds=...,
evidence={...})`` once per checked statement. The call validates its arguments (a ValueError
naming the argument), asserts the condition that justifies the verdict, and displays a claim
card whose JSON record is stored in the notebook's outputs. The checklists, the verification
ledger and ``claims.json`` are built from those stored records (``book/_ext/claims_ledger.py``);
``python -m mixupbook.audit`` re-runs the notebooks with other seeds and records which held.

``holds`` is whether the *source's statement* (as the claim text words it) held on the evidence:
``True`` for the holds verdicts, ``False`` for ``fails`` (the evidence is a counterexample).
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import math
import os
from pathlib import Path

import yaml

VERDICTS = ("holds", "holds narrowly", "holds after correction", "fails", "not reproduced at book scale",
            "inconclusive at book scale", "stated, not checked", "paper scale: not yet run", "paper scale: run")
HOLDING = ("holds", "holds narrowly", "holds after correction")
# A claimed effect the stand-in does not show (say whether mixup itself helps there), or one that is
# significant neither way: ``holds`` is the condition that justifies the verdict (e.g. "not 3 s.e.
# better"), recorded as ``held`` like a holding claim's.
UNSHOWN = ("not reproduced at book scale", "inconclusive at book scale")
MIME = "application/vnd.mixupbook.claim+json"
AUDIT_ENV = "MIXUPBOOK_AUDIT"   # set by the seed audit: a false condition is recorded, not raised
ITEMS_FILE = Path(__file__).with_name("paper_items.yaml")


def chapters() -> dict:
    """``{chapter: {"title": ..., "items": {id: {"name", "result", "scale"?}}}}`` from paper_items.yaml."""
    return yaml.safe_load(ITEMS_FILE.read_text())


def items() -> dict:
    """Every paper item: ``{id: {"chapter", "name", "result", "scale"}}``."""
    return {i: {"chapter": key, "scale": "book", **spec}
            for key, ch in chapters().items() for i, spec in ch["items"].items()}


def summary(values) -> dict:
    """Mean, standard error and n of per-seed values (the form a sampled claim is asserted on)."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n < 2:
        raise ValueError(f"values: need at least 2 per-seed values for a standard error, got {n}")
    mean = sum(xs) / n
    se = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1) / n)
    return {"mean": mean, "se": se, "n": n}


def t_margin(summary_: dict, confidence: float = 0.95) -> float:
    """Half-width of the two-sided t interval of a ``summary(...)``: t_{(1+c)/2, n-1} times its s.e.

    A sampled claim is decided on the mean over seeds against this margin (with 5 seeds the
    95% quantile is 2.78, not 2: "2 s.e." would be an 11.6% two-sided criterion).
    """
    from scipy import stats
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: a probability in (0, 1), got {confidence!r}")
    if not {"se", "n"} <= set(summary_) or summary_["n"] < 2:
        raise ValueError(f"summary_: the result of claims.summary(...) (n >= 2), got {summary_!r}")
    return float(stats.t.ppf((1 + confidence) / 2, summary_["n"] - 1)) * summary_["se"]


def pm(summary_or_mean, se: float | None = None, sign: bool = False) -> str:
    """A mean with its standard error as printed text, ``"0.399 +- 0.012"``: the s.e. to two
    significant digits and the mean to the same decimal place.

    Takes a ``summary(...)`` dict or (mean, se). This is the form in which ``make test`` compares
    a statistic across machines (``mixupbook.compare``: the means within one s.e.), so print
    seed-averaged quantities this way rather than as separate mean and s.e. numbers.
    """
    if isinstance(summary_or_mean, dict):
        mean, se = summary_or_mean["mean"], summary_or_mean["se"]
    else:
        mean = summary_or_mean
    mean, se = float(mean), float(se)
    if not (math.isfinite(mean) and math.isfinite(se)) or se < 0:
        raise ValueError(f"pm: need a finite mean and s.e. >= 0, got {mean!r}, {se!r}")
    decimals = 3 if se == 0 else max(0, 1 - math.floor(math.log10(se)))
    return f"{mean:{'+' if sign else ''}.{decimals}f} +- {se:.{decimals}f}"


def _round(v):
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"a non-finite number {v!r}")
        return float(f"{v:.4g}")
    if isinstance(v, dict):
        return {str(k): _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    return v


def _jsonable(name: str, value):
    """``value`` as plain JSON (numpy/torch scalars and arrays converted, floats to 4 significant digits)."""
    def default(o):
        if hasattr(o, "tolist"):
            return o.tolist()
        raise TypeError(f"{type(o).__name__} is not JSON")
    try:
        return _round(json.loads(json.dumps(value, default=default, allow_nan=False)))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot be written as JSON ({e})") from None


def make_record(item: str, claim: str, verdict: str, holds=None, evidence: dict | None = None,
                paper=None, seeds=None, tolerance: str | None = None, erratum: str | None = None,
                reason: str | None = None, record: str | None = None) -> dict:
    """Validate a claim and return its record; ``held`` says whether the verdict's condition held."""
    known = items()
    if item not in known:
        raise ValueError(f"item: unknown {item!r}; valid: {sorted(known)}")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict: unknown {verdict!r}; valid: {list(VERDICTS)}")
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("claim: the statement checked, as a non-empty string")
    if hasattr(holds, "item"):   # numpy / torch bool
        holds = holds.item()
    checked = verdict in HOLDING or verdict in UNSHOWN or verdict == "fails"
    if checked and not isinstance(holds, bool):
        raise ValueError(f"holds: a {verdict!r} claim needs a condition (holds=<bool>), got {holds!r}")
    if not checked and holds is not None:
        raise ValueError(f"holds: a {verdict!r} claim checks nothing; leave holds unset")
    for name, value, needed in [("erratum", erratum, verdict == "holds after correction"),
                                ("reason", reason, verdict == "stated, not checked"),
                                ("record", record, verdict == "paper scale: run")]:
        if needed and not value:
            raise ValueError(f"{name}: a {verdict!r} claim must name its {name}")
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError("seeds: give the seeds the evidence was computed with, or None")
    if paper is not None:
        paper = dict(paper)
        if not {"source", "value"} <= set(paper):
            raise ValueError("paper: a row of results.paper_numbers(...) (with 'source' and 'value')")
        paper = {k: paper[k] for k in ("source", "metric", "value") if k in paper}
    rec = {"item": item, "chapter": known[item]["chapter"], "claim": claim.strip(), "verdict": verdict,
           "evidence": [[str(k), v] for k, v in _jsonable("evidence", dict(evidence or {})).items()], "paper": _jsonable("paper", paper),
           "seeds": seeds, "tolerance": tolerance, "erratum": erratum, "reason": reason, "record": record}
    rec["held"] = ((holds is True) if verdict in HOLDING or verdict in UNSHOWN
                   else (holds is False) if verdict == "fails" else None)
    return rec


def label(item: str, key: str | None, count: int) -> str:
    """The Sphinx label of a claim card: ``claim-z11``, ``claim-z11-2`` or ``claim-z11-<key>``."""
    base = f"claim-{item.lower()}"
    if key:
        return f"{base}-{key.lower()}"
    return base if count == 1 else f"{base}-{count}"


def _evidence_text(rec: dict) -> str:
    parts = [f"{k} = {v}" for k, v in rec["evidence"]]   # [name, value] pairs: nbformat sorts dict keys
    if rec["paper"]:
        parts.append(f"paper ({rec['paper']['source']}) = {rec['paper']['value']}")
    if rec["seeds"]:
        parts.append(f"{len(rec['seeds'])} seeds")
    if rec["tolerance"]:
        parts.append(f"tolerance: {rec['tolerance']}")
    return "; ".join(parts)


def verdict_class(verdict: str) -> str:
    """The CSS class of a verdict (_static/book.css colours it): ``claim-fails``, ``claim-paper-scale``."""
    return "claim-" + verdict.split(":")[0].replace(" ", "-").replace(",", "")


def card_markdown(rec: dict) -> str:
    """The claim card as MyST (what the book renders; the label makes it a link target)."""
    lines = [f"({rec['label']})=", f":::{{admonition}} {rec['item']} · {rec['verdict']}",
             f":class: claim {verdict_class(rec['verdict'])}", "",
             rec["claim"], ""]
    lines += [f"- {p}" for p in _evidence_text(rec).split("; ") if p]
    for name in ("erratum", "reason", "record"):
        if rec[name]:
            value = f"{{ref}}`{rec[name]}`" if name == "erratum" else rec[name]
            lines.append(f"- {name}: {value}")
    if rec["held"] is False:
        lines.append("- **condition not met** (seed audit)")
    return "\n".join(lines + [":::"])


def card_text(rec: dict) -> str:
    return f"[{rec['item']} · {rec['verdict']}] {rec['claim']}\n  {_evidence_text(rec)}"


def card_html(rec: dict) -> str:
    import html
    rows = "".join(f"<li>{html.escape(p)}</li>" for p in _evidence_text(rec).split("; ") if p)
    return (f"<div style='border-left:4px solid #4a7;padding:4px 10px'><b>{html.escape(rec['item'])} · "
            f"{html.escape(rec['verdict'])}</b><br>{html.escape(rec['claim'])}<ul>{rows}</ul></div>")


def claim(item: str, claim: str, verdict: str, *, key: str | None = None, counts: dict | None = None,
          display: bool = True, **kwargs) -> dict:
    """Record and show a claim (see the module docstring); stops the notebook when it does not hold."""
    rec = make_record(item, claim, verdict, **kwargs)
    counts = {} if counts is None else counts
    counts[item] = counts.get(item, 0) + 1
    rec["label"] = label(item, key, counts[item])
    if display:
        _display(rec)
    if rec["held"] is False and not os.environ.get(AUDIT_ENV):
        raise AssertionError(f"claim {item} ({verdict}) does not hold on this evidence: {card_text(rec)}")
    return rec


def _display(rec: dict) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(card_text(rec))
        return
    display({MIME: rec, "text/markdown": card_markdown(rec), "text/html": card_html(rec),
             "text/plain": card_text(rec)}, raw=True)


# The form of claims.json in the built site, with every field documented (``validate``;
# ``python -m mixupbook.claims FILE``); the build publishes it beside claims.json.
SCHEMA_FILE = Path(__file__).with_name("claims.schema.json")
SCHEMA = json.loads(SCHEMA_FILE.read_text())


def validate(data: dict) -> None:
    """Raise ValueError when ``data`` (the content of claims.json) does not follow ``SCHEMA``."""
    import jsonschema
    try:
        jsonschema.validate(data, SCHEMA)
    except jsonschema.ValidationError as e:
        raise ValueError(f"claims.json: {'/'.join(map(str, e.absolute_path))}: {e.message}") from None
    unknown = sorted({r["item"] for r in data["claims"]} - set(items()))
    if unknown:
        raise ValueError(f"claims.json: unknown items {unknown}")


# --- reading claims back from stored notebooks --------------------------------------------------

def notebook_claims(path: Path) -> list[dict]:
    """The claim records stored in the outputs of notebook ``path``, in cell order (with the cell index)."""
    nb = json.loads(Path(path).read_text())
    out = []
    for index, cell in enumerate(nb.get("cells", [])):
        for o in cell.get("outputs", []) or []:
            rec = (o.get("data") or {}).get(MIME)
            if rec is not None:
                out.append({**rec, "cell": index})
    return out


def source_hash(path: Path) -> str:
    """A hash of what a notebook's code cells compute: what the seed audit is valid for.

    Each code cell counts by its syntax tree (``canonical``), so formatting, comments and prose
    (markdown cells) do not make an audit stale; the generated ``launch-install`` cell and
    papermill's injected parameters are left out. A cell that does not parse (IPython syntax) counts
    by its text.
    """
    nb = json.loads(Path(path).read_text())
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] != "code" or {"injected-parameters", "launch-install"} & set(c.get("metadata", {}).get("tags", [])):
            continue
        src = "".join(c["source"])
        try:
            cells.append(canonical(ast.parse(src)))
        except SyntaxError:
            cells.append(src)
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()[:16]


def canonical(node) -> str:
    """A syntax tree as text that is the same on every Python the book supports (3.10 and later):
    node types and fields, leaving out fields that are empty or None. ``ast.dump`` is not: Python
    3.12 adds an empty ``type_params`` to every function and class, and 3.13 leaves empty fields
    out, so a hash of it would call every audit stale on another Python."""
    def walk(n):
        if isinstance(n, ast.AST):
            fields = [(f, walk(getattr(n, f, None))) for f in n._fields]
            return [type(n).__name__, [[f, v] for f, v in fields if v not in (None, [])]]
        if isinstance(n, list):
            return [walk(x) for x in n]
        return repr(n)
    return json.dumps(walk(node))


PACKAGE_DIR = Path(__file__).resolve().parent
# The installed versions of these count in ``library_hash``: they compute and generate the data.
COMPUTE_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "mnist1d")


def library_hash(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """A hash of the library code a notebook runs: the other half of what a seed audit is valid for.

    It covers every ``mixupbook`` module the notebook's code cells import, every module those import
    in turn (any import statement, also one inside a function) and their packages' ``__init__``; each
    counts by its syntax tree with docstrings removed, so comments and documentation do not make an
    audit stale, and a module the notebook never imports (the book's Sphinx extensions, the sweep
    runner of another chapter) does not either. The data generators are library code (``data``,
    ``benefit``) or come from the packages in ``COMPUTE_PACKAGES``, whose installed versions count too.
    """
    nb = json.loads(Path(path).read_text())
    names: set[str] = set()
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            try:
                names |= _imports(ast.parse("".join(c["source"])), None, package_dir)
            except SyntaxError:
                continue
    seen: dict[str, str] = {}
    todo = sorted(names)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for k in range(1, len(parts) + 1):       # importing a.b.c runs a, a.b and a.b.c
            mod = ".".join(parts[:k])
            if mod in seen:
                continue
            file = _module_file(mod, package_dir)
            if file is None:                      # an attribute (from mixupbook.x import f), not a module
                continue
            digest, found = _module_digest(file, file.stat().st_mtime_ns, mod, file.name == "__init__.py", package_dir)
            seen[mod] = digest
            todo.extend(sorted(found - set(seen)))
    from importlib import metadata
    versions = {}
    for pkg in COMPUTE_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return hashlib.sha256(json.dumps([sorted(seen.items()), versions]).encode()).hexdigest()[:16]


def _module_file(name: str, package_dir: Path) -> Path | None:
    base = package_dir.joinpath(*name.split(".")[1:])
    return next((f for f in (base.with_suffix(".py"), base / "__init__.py") if f.is_file()), None)


def _imports(tree: ast.AST, module: str | None, package_dir: Path, is_package: bool = False) -> set[str]:
    """The ``mixupbook`` names imported anywhere in ``tree`` (``module``: the importing module, for
    relative imports); ``from m import x`` gives both ``m`` and ``m.x`` (a module or an attribute)."""
    top = package_dir.name
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == top}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    continue
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                base = pkg[:len(pkg) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] == top:
                out |= {mod, *(f"{mod}.{a.name}" for a in node.names)}
    return out


@functools.lru_cache(maxsize=None)
def _module_digest(file: Path, mtime_ns: int, module: str, is_package: bool, package_dir: Path):
    """(hash of the module's syntax tree without docstrings, the mixupbook names it imports)."""
    tree = ast.parse(file.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    digest = hashlib.sha256(canonical(tree).encode()).hexdigest()[:16]
    found = _imports(tree, module, package_dir, is_package)
    if any(isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) == "import_module"
           for n in ast.walk(tree)):              # imports by computed name (a registry): its whole folder
        pkg = module if is_package else module.rpartition(".")[0]
        found |= {f"{pkg}.{f.stem}" for f in file.parent.glob("*.py") if f.stem != "__init__"}
    return digest, frozenset(found)


def audit_stale(audit: dict, nb: Path) -> str:
    """Why a seed audit record no longer covers notebook ``nb`` ('' when it does)."""
    if audit.get("source_hash") != source_hash(nb):
        return "the notebook's code changed"
    if audit.get("library_hash") != library_hash(nb):
        return "the library code it imports, or a computing package's version, changed"
    return ""


def is_audited(records: list[dict]) -> bool:
    """Whether a notebook's claims are seed-audited: any claim checks a condition. Every notebook
    takes a ``seed`` (its data, initialisation or sampling), so a claim that names no seeds is
    audited too: one that truly rests on no randomness passes at every seed, and one that does
    cannot escape by leaving ``seeds`` out."""
    return any(r.get("held") is not None for r in records)


def audit_path(root: Path, nb: Path) -> Path:
    rel = Path(nb).resolve().relative_to((Path(root) / "notebooks").resolve())
    return Path(root) / "results" / "audit" / rel.with_suffix(".json")


def audit_status(root: Path, nb: Path, rec: dict) -> str:
    """'held for k of K seeds', 'not audited', 'stale' or '' (nothing checked) for one claim."""
    if rec.get("held") is None:
        return ""
    path = audit_path(root, nb)
    if not path.exists():
        return "not audited"
    audit = json.loads(path.read_text())
    if audit_stale(audit, nb):
        return "stale"
    held = audit["claims"].get(rec["label"], {}).get("held")
    if held is None:
        return "not audited"
    return f"held for {sum(h is True for h in held)} of {len(held)} seeds"


def collect(root: Path) -> list[dict]:
    """Every stored claim of the book, with its notebook's document name and audit status."""
    root = Path(root)
    out = []
    for nb in sorted((root / "notebooks").glob("*/[0-9]*.ipynb")):
        doc = nb.relative_to(root).with_suffix("").as_posix()
        for rec in notebook_claims(nb):
            out.append({**rec, "notebook": doc, "audit": audit_status(root, nb, rec)})
    return out


SEVERITY = ("fails", "not reproduced at book scale", "inconclusive at book scale", "holds after correction",
            "holds narrowly", "holds", "stated, not checked")


# Each verdict as the plural verb of a count ("2 hold"), for summaries.
PLURAL = {"holds": "hold", "holds narrowly": "hold narrowly", "holds after correction": "hold after correction",
          "fails": "fail", "not reproduced at book scale": "not reproduced at book scale",
          "inconclusive at book scale": "inconclusive at book scale", "stated, not checked": "stated, not checked"}


def _counted(verdicts: list[str]) -> str:
    return ", ".join(f"{verdicts.count(v)} {v if verdicts.count(v) == 1 else PLURAL[v]}"
                     for v in sorted(set(verdicts), key=SEVERITY.index))


def paper_status(recs: list[dict]) -> str | None:
    """An item's paper-scale status ('paper scale: run' / 'paper scale: not yet run'), None without one."""
    paper = [r["verdict"] for r in recs if r["verdict"].startswith("paper scale")]
    if not paper:
        return None
    return "paper scale: run" if "paper scale: run" in paper else "paper scale: not yet run"


def item_summary(recs: list[dict]) -> str:
    """An item's verdict as a summary of its parts, not its most severe claim: the verdict when its
    book-scale claims agree, else each verdict with its number of claims, most severe first
    ("1 holds narrowly, 2 fail"); then the paper-scale status."""
    book = [r["verdict"] for r in recs if not r["verdict"].startswith("paper scale")]
    text = (book[0] if len(set(book)) == 1 else _counted(book)) if book else ""
    status = paper_status(recs)
    return "; ".join(p for p in (text, status) if p)


def problems(records: list[dict], chapter_keys=None) -> list[str]:
    """Coverage errors: an item without a claim, a claim of an unknown item, two claims that disagree,
    a stored claim whose condition did not hold (written with ``MIXUPBOOK_AUDIT`` set outside an audit)."""
    known = items()
    keys = set(chapter_keys) if chapter_keys is not None else {v["chapter"] for v in known.values()}
    errs = [f"{r['notebook']}: claim of unknown item {r['item']!r}" for r in records if r["item"] not in known]
    errs += [f"{r['notebook']}: {r['label']} ({r['verdict']}): its condition did not hold in the stored run "
             f"(was {AUDIT_ENV} set?); re-execute the notebook" for r in records if r.get("held") is False]
    claimed = {r["item"] for r in records}
    errs += [f"{i} ({v['chapter']}): no claim records this item" for i, v in known.items()
             if v["chapter"] in keys and i not in claimed]
    seen: dict = {}
    for r in records:
        prev = seen.setdefault((r["item"], r["claim"]), r)
        if prev["verdict"] != r["verdict"]:
            errs.append(f"{r['item']}: the claim {r['claim']!r} is {prev['verdict']!r} in {prev['notebook']} "
                        f"but {r['verdict']!r} in {r['notebook']}")
    labels: dict = {}
    for r in records:
        if labels.setdefault(r["label"], r["notebook"]) != r["notebook"]:
            errs.append(f"label {r['label']} used in {labels[r['label']]} and {r['notebook']}: pass key=")
    return errs


def count_line(key: str, records: list[dict]) -> str:
    """A chapter's summary: its claims at book scale by verdict, then its items' paper-scale status,
    e.g. 'zhang2021: 11 items, 25 claims: 15 hold, 2 fail; paper scale: 1 item run, 2 not yet run'.
    Claims are counted, not items, so that an item with a confirmed observation and a refuted reading
    of it shows both (``item_summary``); ``stated, not checked`` is never counted as holding."""
    ch = chapters()[key]["items"]
    by_item = {i: [r for r in records if r["item"] == i] for i in ch}
    book = [r["verdict"] for r in records if r["item"] in ch and not r["verdict"].startswith("paper scale")]
    line = f"{key}: {len(ch)} item{'s' if len(ch) != 1 else ''}, {len(book)} claim{'s' if len(book) != 1 else ''}"
    line += f": {_counted(book)}" if book else ""
    status = [paper_status(rs) for rs in by_item.values()]
    run, not_run = status.count("paper scale: run"), status.count("paper scale: not yet run")
    if run or not_run:
        line += "; paper scale: " + ", ".join(p for p in (f"{run} item{'s' if run != 1 else ''} run" if run else "",
                                                          f"{not_run} not yet run" if not_run else "") if p)
    missing = sum(not rs for rs in by_item.values())
    if missing:
        line += f"; {missing} item{'s' if missing != 1 else ''} without a claim yet"
    return line


def structured(name: str, value, seeds=None) -> dict:
    """One evidence pair as ``{name, value, se, n, text}``: a number, or a mean with its s.e. from
    ``pm`` text ("0.971 +- 0.005", n = the claim's number of seeds), else the stored value as text."""
    import re
    out = {"name": name, "value": None, "se": None, "n": None, "text": None}
    if isinstance(value, bool) or isinstance(value, (int, float)):
        out["value"] = value
        return out
    m = re.fullmatch(r"\s*([+-]?[0-9.]+(?:e[+-]?\d+)?)\s*(?:\+-|±)\s*([0-9.]+(?:e[+-]?\d+)?)\s*", str(value))
    if m:
        out.update(value=float(m[1]), se=float(m[2]), n=len(seeds) if seeds else None)
    else:
        out["text"] = value
    return out


def condition_sources(path: Path) -> dict:
    """``{cell index: [holds= source of each claim call, in source order]}`` of a notebook's code cells."""
    nb = json.loads(Path(path).read_text())
    out = {}
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call) and
                        getattr(n.func, "attr", getattr(n.func, "id", None)) == "claim"),
                       key=lambda n: (n.lineno, n.col_offset))
        if calls:
            out[index] = [next((ast.get_source_segment(src, kw.value) for kw in c.keywords if kw.arg == "holds"), None)
                          for c in calls]
    return out


def _condition(rec: dict, sources: dict, per_cell: dict) -> str | None:
    """The holds= source of a record: by order when a cell has one record per claim call, the single
    call's when a cell has one (a claim in a loop); else None (not attributable)."""
    calls = sources.get(rec["cell"], [])
    recs = per_cell.get(rec["cell"], [])
    if len(calls) == 1:
        return calls[0]
    if len(calls) == len(recs):
        return calls[recs.index(rec["label"])]
    return None


def export(root: Path, commit: str = "unknown", date: str = "") -> dict:
    """The content of claims.json (``SCHEMA``): every stored claim with structured evidence, the
    source of its condition, a link to its card and its current per-seed audit."""
    root = Path(root)
    records = collect(root)
    out = []
    for nb in sorted((root / "notebooks").glob("*/[0-9]*.ipynb")):
        doc = nb.relative_to(root).with_suffix("").as_posix()
        mine = [r for r in records if r["notebook"] == doc]
        if not mine:
            continue
        sources = condition_sources(nb)
        per_cell: dict = {}
        for r in mine:
            per_cell.setdefault(r["cell"], []).append(r["label"])
        path = audit_path(root, nb)
        audit = json.loads(path.read_text()) if path.exists() else None
        if audit and audit_stale(audit, nb):
            audit = None
        for r in mine:
            entry = audit["claims"].get(r["label"]) if audit else None
            out.append({**r, "values": [structured(k, v, r["seeds"]) for k, v in r["evidence"]],
                        "paper_value": (r["paper"] or {}).get("value"), "condition": _condition(r, sources, per_cell),
                        "url": f"{doc}.html#{r['label']}",
                        "audit_seeds": None if entry is None else {
                            "seeds": audit["seeds"], "fresh_seeds": audit.get("fresh_seeds", []),
                            "held": entry["held"], "verdicts": entry.get("verdicts", []),
                            "evidence": entry.get("evidence", []), "commit": audit.get("commit"),
                            "date": audit.get("date"), "kernel": audit.get("kernel")}})
    return {"version": 2, "generated": {"commit": commit, "date": date}, "items": items(),
            "chapters": {k: count_line(k, [r for r in out if r["chapter"] == k]) for k in chapters()},
            "claims": out}

if __name__ == "__main__":
    import sys
    validate(json.loads(Path(sys.argv[1]).read_text()))
    print(f"{sys.argv[1]}: valid")
