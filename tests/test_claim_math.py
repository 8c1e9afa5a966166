"""Claim sentences are shown with their mathematics in symbols (book/_ext/claim_math.py), in the
book's notation per chapter, and the stored records keep their ASCII."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import claim_math  # noqa: E402


@pytest.mark.parametrize("ascii_, chapter, shown", [
    ("lam ~ D~ and E[1 - lam] = alpha / (2 alpha + 1)", "foundations", "λ ∼ D̃ and 𝔼[1 - λ] = α / (2 α + 1)"),
    ("sigma^2/theta_bar^2 <= 1/8", "carratino2022", "σ²/ϑ̄² ≤ 1/8"),          # Carratino's folded weight
    ("exp(theta x~ - psi_lam(theta))", "kimura2021", "exp(θ x̃ - ψ_λ(θ))"),     # a parameter elsewhere
    ("x~_i + delta_i, eps_i", "carratino2022", "x̃ᵢ + δᵢ, εᵢ"),
    ("eta |q_hat_i| and max_i ||x_i - x_bar||", "zou2023", "η |q̂ᵢ| and maxᵢ ‖xᵢ - x̄‖"),
    ("(gamma/sqrt rho)^(2/3) and sum_k n_k^2 / B^2", "zhang2021", "(γ/√ρ)^(2/3) and ∑ₖ nₖ² / B²"),
    ("H^-1 but Tr(H^-1/2 K)", "carratino2022", "H⁻¹ but Tr(H^-1/2 K)"),
    # words, names and paths that only look like symbols stay as they are
    ("Theorem 2, Beta(1, 1), label-weight, alphabet, digits_noise_40, 11_fig1b, lambdas", "zhang2021",
     "Theorem 2, Beta(1, 1), label-weight, alphabet, digits_noise_40, 11_fig1b, lambdas"),
])
def test_pretty_writes_the_books_symbols(ascii_, chapter, shown):
    assert claim_math.pretty(ascii_, chapter) == shown


def test_chapter_of_a_page():
    assert claim_math.chapter_of("notebooks/carratino2022/02_quadratic_approximation") == "carratino2022"
    assert claim_math.chapter_of("book/synthesis/02_mechanism_arms") == "synthesis"
    assert claim_math.chapter_of("index") == ""


def test_checklists_show_the_symbols_and_claims_json_keeps_the_ascii():
    import claims_ledger
    from mixupbook import claims

    rec = {**claims.make_record("F3", "lam ~ D~ gives E[1 - lam] = alpha/(2 alpha + 1)", "holds", holds=True,
                                evidence={"theta_bar": 0.75}, erratum="erratum-eta-x"),
           "label": "claim-f3", "chapter": "foundations", "audit": ""}
    lines = claims_ledger.checklist_lines("foundations", [rec])
    row = next(line for line in lines if "claim-f3" in line)
    assert "λ ∼ D̃ gives 𝔼[1 - λ] = α/(2 α + 1)" in row and "θ̄ = 0.75" in row   # the evidence too
    assert "{ref}`erratum-eta-x`" in row                                          # a link target is not text
    assert rec["claim"] == "lam ~ D~ gives E[1 - lam] = alpha/(2 alpha + 1)"
