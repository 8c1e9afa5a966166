"""How a re-executed notebook's outputs are compared with the stored ones: as a scientist would.

Bit-identical float training across CPUs cannot be promised: kernel libraries pick instruction
sets and blocking by CPU, and a few epochs turn the last bits into other printed digits. So
``make test`` compares outputs by a stated rule, and exact comparison (plain nbval) stays for the
reference machine under the pin (``make test-exact``).

The rule (``agree``; README "Which machines reproduce the stored outputs"):

- **Text**: identical apart from numbers and the width of white space (a table pads its columns
  to its widest number), after nbval's sanitizers.
- **A number** agrees when ``|a - b| <= max(UNITS * u, RTOL * max(|a|, |b|))``, with ``u`` the unit
  of the last digit printed (0.971: 0.001; 1.2e-05: 1e-06). Integers (no point, no exponent) are
  counts, seeds, sizes and epochs: they must be equal.
- **A number printed with its standard error**, ``m +- s`` or ``m ± s``: the means agree when they
  differ by at most ``SE_MULTIPLE`` times the larger s.e. (or by the rule above), and the two
  standard errors when their ratio is at most ``SE_RATIO`` (or by the rule above).
- **Claim records** (``mixupbook.claims.MIME``): every field exactly (item, claim, verdict,
  held, label, seeds, tolerance, ...) except the evidence values, which follow the number rule; an
  evidence value named as an interval (``[lo, hi]``, e.g. a bootstrap interval) agrees when each end
  moves by at most ``INTERVAL_FRACTION`` of its width (or by the number rule). A claim card's
  Markdown, HTML and text forms are compared up to their evidence (the verdict line and the
  claim's sentence exactly): their evidence is the record's, compared there.
- **Images** are not compared (nbval does not compare ``image/png`` either; glued figures too).

A printed quantity that moves by more than this under last-bit noise is printed coarser (or as
a verdict); round-off by design is asserted, not printed. Use it as a pytest plugin beside nbval:
``pytest --nbval -p mixupbook.compare NOTEBOOKS`` (with xdist, ``--dist loadfile`` keeps each
notebook on one worker).
"""
from __future__ import annotations

import math
import re

UNITS = 3           # last-digit units a number may move
RTOL = 0.01         # or this relative difference, whichever is larger
# A training run on another CPU can drift like a fresh replicate of itself: two replicate means
# differ by sqrt(2) s.e. in s.d. (4 s.e. is 2.8 s.d.), and the ratio of two standard errors from 5
# seeds exceeds 4 about 2% of the time (F(4, 4) distribution of their squares).
SE_MULTIPLE = 4.0   # a mean beside its standard error may move by this many standard errors
SE_RATIO = 4.0      # two standard errors of the same quantity agree within this factor
# A 95% interval is about 4 s.e. wide, and its ends move with the estimate: half its width is 2 s.e.
INTERVAL_FRACTION = 0.5

_NUM = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
# A number not glued to a word before it (z11, x2, claim-h4-2 stay text) and its optional "+- s.e.".
NUMBER = re.compile(rf"(?<![\w.])(?P<m>{_NUM})(?:(?P<pm>\s*(?:\+-|±|\+/-)\s*)(?P<s>{_NUM}))?")


def unit(text: str) -> float | None:
    """The unit of the last printed digit of a number as printed; None for an integer."""
    mant, _, exp = text.lower().partition("e")
    if "." not in mant and not exp:
        return None
    decimals = len(mant.partition(".")[2])
    return 10.0 ** (int(exp or 0) - decimals)


def number_agrees(a: str, b: str) -> bool:
    """Two printed numbers agree under the rule (integers exactly)."""
    if a == b:
        return True
    ua, ub = unit(a), unit(b)
    if ua is None or ub is None:
        return False
    x, y = float(a), float(b)
    return abs(x - y) <= max(UNITS * max(ua, ub), RTOL * max(abs(x), abs(y)))


def _se_agree(s1: str, s2: str) -> bool:
    x, y = abs(float(s1)), abs(float(s2))
    if number_agrees(s1, s2):
        return True
    return min(x, y) > 0 and max(x, y) / min(x, y) <= SE_RATIO


def _mean_agree(m1: str, m2: str, s1: str, s2: str) -> bool:
    return number_agrees(m1, m2) or abs(float(m1) - float(m2)) <= SE_MULTIPLE * max(abs(float(s1)), abs(float(s2)))


def text_mismatch(ref: str, new: str) -> str | None:
    """None when two output texts agree under the rule, else the first difference in words."""
    ra, na = list(NUMBER.finditer(ref)), list(NUMBER.finditer(new))
    rt, nt = NUMBER.split(ref), NUMBER.split(new)
    # split() interleaves text with the groups; compare the text between numbers exactly
    rtext, ntext = rt[:: 1 + NUMBER.groups], nt[:: 1 + NUMBER.groups]
    # a table pads its columns to the widest number: spacing is layout, not content
    rtext, ntext = ([re.sub(r"\s+", " ", t) for t in parts] for parts in (rtext, ntext))
    if len(ra) != len(na) or rtext != ntext:
        for r, n in zip(rtext, ntext):
            if r != n:
                return f"text differs: {r.strip()[:80]!r} vs {n.strip()[:80]!r}"
        return f"{len(ra)} numbers stored, {len(na)} now"
    for r, n in zip(ra, na):
        if (r["s"] is None) != (n["s"] is None) or (r["pm"] or "").strip() != (n["pm"] or "").strip():
            return f"{r[0]!r} vs {n[0]!r}: not the same form"
        if r["s"] is None:
            if not number_agrees(r["m"], n["m"]):
                return f"{r['m']} vs {n['m']}: beyond {UNITS} last-digit units and {RTOL:.0%}"
        elif not _mean_agree(r["m"], n["m"], r["s"], n["s"]):
            return f"{r[0]} vs {n[0]}: the means differ by more than {SE_MULTIPLE:g} s.e."
        elif not _se_agree(r["s"], n["s"]):
            return f"{r[0]} vs {n[0]}: the standard errors differ by more than a factor {SE_RATIO:g}"
    return None


def _value_mismatch(path: str, ref, new) -> str | None:
    if isinstance(ref, bool) or isinstance(new, bool) or ref is None or new is None:
        return None if ref == new and type(ref) is type(new) else f"{path}: {ref!r} vs {new!r}"
    if isinstance(ref, (int, float)) and isinstance(new, (int, float)):
        return None if number_agrees(_printed(ref), _printed(new)) else f"{path}: {ref!r} vs {new!r}"
    if isinstance(ref, str) and isinstance(new, str):
        why = text_mismatch(ref, new)
        return f"{path}: {why}" if why else None
    if _interval(path, ref) and _interval(path, new):
        width = max(ref[1] - ref[0], new[1] - new[0])
        for i, (r, n) in enumerate(zip(ref, new)):
            if not (number_agrees(_printed(r), _printed(n)) or abs(r - n) <= INTERVAL_FRACTION * width):
                return f"{path}[{i}]: {r!r} vs {n!r}, beyond {INTERVAL_FRACTION:g} of the interval's width"
        return None
    if isinstance(ref, list) and isinstance(new, list) and len(ref) == len(new):
        for i, (r, n) in enumerate(zip(ref, new)):
            why = _value_mismatch(f"{path}[{i}]", r, n)
            if why:
                return why
        return None
    return None if ref == new else f"{path}: {ref!r} vs {new!r}"


def _interval(path: str, v) -> bool:
    """An evidence value named as an interval: ``[lo, hi]``, two numbers in order."""
    return ("interval" in path and isinstance(v, list) and len(v) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) and v[0] <= v[1])


def card_head(text: str) -> str | None:
    """The part of a claim card's Markdown, HTML or text form before its evidence (None for other text)."""
    if text.startswith("<div style='border-left:4px solid"):            # claims.card_html
        return text.split("<ul>")[0]
    if re.match(r"\([a-z0-9-]+\)=\n:::\{admonition\} ", text):         # claims.card_markdown
        return "\n\n".join(text.split("\n\n")[:2])
    if re.match(r"\[[^\]\n]+ · [^\]\n]+\] ", text):                     # claims.card_text
        return text.split("\n")[0]
    return None


def _printed(v) -> str:
    """A JSON number as printed digits: claim evidence is stored to 4 significant digits."""
    return str(v) if isinstance(v, int) else f"{v:.4g}" if "e" in f"{v:.4g}" else repr(v)


def record_mismatch(ref: dict, new: dict) -> str | None:
    """None when two claim records agree: every field exactly, evidence values by the number rule."""
    if set(ref) != set(new):
        return f"claim record fields differ: {sorted(set(ref) ^ set(new))}"
    for key in ref:
        if key == "evidence":
            names = [e[0] for e in ref[key]], [e[0] for e in new[key]]
            if names[0] != names[1]:
                return f"evidence names differ: {names[0]} vs {names[1]}"
            for (name, r), (_, n) in zip(ref[key], new[key]):
                why = _value_mismatch(f"evidence {name}", r, n)
                if why:
                    return why
        elif ref[key] != new[key]:
            return f"claim record {key!r}: {ref[key]!r} stored, {new[key]!r} now"
    return None


PNG = "iVBORw0KGgo"   # base64 of a PNG's signature: images are not compared (nbval's default too)


def mismatch(ref, new) -> str | None:
    """None when a stored output value and a new one agree under the rule (str or claim record)."""
    if isinstance(ref, str) and isinstance(new, str) and ref.startswith(PNG) and new.startswith(PNG):
        return None   # a glued figure (myst-nb keeps it under another MIME type than image/png)
    if isinstance(ref, str) and isinstance(new, str):
        heads = card_head(ref), card_head(new)
        if heads[0] is not None and heads[1] is not None:   # the evidence is the record's, compared there
            return None if heads[0] == heads[1] else f"claim card: {heads[0][-80:]!r} vs {heads[1][-80:]!r}"
        return text_mismatch(ref, new)
    if isinstance(ref, dict) and isinstance(new, dict) and {"item", "verdict", "evidence"} <= set(ref):
        return record_mismatch(ref, new)
    return None if ref == new else "outputs differ"


# --- the pytest plugin: nbval compares the values this wraps --------------------------------------

class _Tolerant:
    """An output value whose ``!=`` is the rule above (nbval compares with ``ref != test``)."""

    def __init__(self, value):
        self.value = value
        self.why = None

    def __ne__(self, other):
        other = other.value if isinstance(other, _Tolerant) else other
        self.why = mismatch(self.value, other)
        return self.why is not None

    def __eq__(self, other):
        return not self.__ne__(other)

    __hash__ = None

    def __str__(self):
        return self.value if isinstance(self.value, str) else repr(self.value)


def pytest_configure(config):
    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell, "_mixupbook_tolerant", False):
        return
    sanitize, report = IPyNbCell.sanitize, IPyNbCell.format_output_compare

    def tolerant_sanitize(self, s):
        return _Tolerant(sanitize(self, s))

    def format_output_compare(self, key, left, right):
        why = left.why if isinstance(left, _Tolerant) else None
        report(self, key, str(left), str(right))
        if why:
            self.comparison_traceback.append(f"mixupbook.compare: {why}")

    IPyNbCell.sanitize = tolerant_sanitize
    IPyNbCell.format_output_compare = format_output_compare
    IPyNbCell._mixupbook_tolerant = True
