"""Claim sentences with their mathematics in math symbols, for the reader.

A claim's text is written in a notebook's code cell, in ASCII (``lam ~ D~``, ``sigma^2/theta_bar^2``,
``E[(1-lam)^2]``): it is also the record in ``claims.json``, where plain text is what a script wants.
``pretty`` turns the symbols of such a sentence into the book's notation, ``λ ∼ D̃``,
``σ²/ϑ̄²``, ``𝔼[(1-λ)²]``, when the book renders it (the claim cards of ``claims_ledger`` and the
checklists); the stored record is unchanged. One spelling is chapter-dependent: ``theta`` is
Carratino et al.'s ``ϑ`` (the folded mixing weight) in their chapter and in the synthesis, which
uses their quantity, and ``θ`` (a parameter) elsewhere, as on the notation page.
"""
from __future__ import annotations

import re

VARTHETA_CHAPTERS = ("carratino2022", "synthesis")
_NOT_LETTER_BEFORE, _NOT_LETTER_AFTER = r"(?<![A-Za-z])", r"(?![A-Za-z])"
GREEK = {"epsilon": "ε", "lambda": "λ", "alpha": "α", "Theta": "Θ", "omega": "ω", "gamma": "γ",
         "sigma": "σ", "Sigma": "Σ", "delta": "δ", "rho": "ρ", "psi": "ψ", "eta": "η", "eps": "ε",
         "lam": "λ", "Lam": "Λ", "mu": "μ"}
LETTER = "A-Za-zΑ-Ωα-ωϑ\u0302\u0303\u0304"   # a symbol a sub- or superscript or an accent can follow
SUBSCRIPTS = dict(zip("ijkn0123456789", "ᵢⱼₖₙ₀₁₂₃₄₅₆₇₈₉"))
OPERATORS = [("<=", "≤"), (">=", "≥"), ("+-", "±"), ("!=", "≠"), ("->", "→"), ("||", "‖"),
             ("^-1", "⁻¹"), ("^2", "²"), ("^3", "³"), ("^+", "⁺")]


def pretty(text: str, chapter: str = "") -> str:
    """``text`` with its ASCII mathematics in symbols (see the module docstring)."""
    theta = "ϑ" if chapter in VARTHETA_CHAPTERS else "θ"
    s = re.sub(_NOT_LETTER_BEFORE + r"theta[-_ ]bar" + _NOT_LETTER_AFTER, theta + "\u0304", text)
    s = re.sub(_NOT_LETTER_BEFORE + "theta" + _NOT_LETTER_AFTER, theta, s)
    for word, symbol in sorted(GREEK.items(), key=lambda kv: -len(kv[0])):
        s = re.sub(_NOT_LETTER_BEFORE + word + _NOT_LETTER_AFTER, symbol, s)
    s = re.sub(f"([{LETTER}])_hat" + _NOT_LETTER_AFTER, "\\1\u0302", s)      # q_hat: q̂
    s = re.sub(f"([{LETTER}])_bar" + _NOT_LETTER_AFTER, "\\1\u0304", s)      # x_bar: x̄
    s = re.sub(r" ~ ", " ∼ ", s)                                             # "distributed as"
    s = re.sub(r"([A-Za-z])~", "\\1\u0303", s)                               # x~, D~: x̃, D̃
    s = re.sub(r"(?<![A-Za-z0-9])E(?=\[|\|\|)", "𝔼", s)                     # E[...], E||...||
    s = re.sub(f"(?<![A-Za-z])sqrt ?(?=[({LETTER}0-9])", "√", s)
    s = re.sub(r"(?<![A-Za-z])sum(?=_)", "∑", s)                            # sum_i (not Σ, a covariance)
    for ascii_, symbol in OPERATORS:
        if ascii_.startswith("^"):
            s = re.sub(re.escape(ascii_) + (r"(?![0-9/])" if ascii_ == "^-1" else r"(?![0-9])"), symbol, s)
        else:
            s = s.replace(ascii_, symbol)
    return re.sub(f"(?<=[{LETTER}∑])_([ijkn0-9])(?![A-Za-z0-9])", lambda m: SUBSCRIPTS[m.group(1)], s)


def chapter_of(docname: str) -> str:
    """The chapter key of a page: ``notebooks/KEY/...`` or ``book/KEY/...`` (else '')."""
    parts = docname.split("/")
    return parts[1] if len(parts) > 2 and parts[0] in ("notebooks", "book") else ""
