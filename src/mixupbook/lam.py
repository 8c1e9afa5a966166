"""Laws of the mixing weight lambda.

Every law used in the book lives here behind one registry (``LAWS``):

* ``beta``: Beta(a, b), the law of Zhang et al. (2018) and of every source paper.
* ``label_weight``: the mixture D~ = a/(a+b) Beta(a+1, b) + b/(a+b) Beta(b+1, a)
  that weights the regularisers of Lemma 3.1 of Zhang et al. (2021) and makes the
  conjugacy identity (their eq. 9) work (book chapter ``foundations``, item F3).
* ``folded``: the law of max(lam, 1 - lam) on [1/2, 1], the theta of Theorem 1 of
  Carratino et al. (2022).
* ``symmetric``: any law on [0, 1] made symmetric about 1/2 (lam or 1 - lam with
  probability 1/2 each); ``mixture``: a finite mixture of laws.

Each law has ``sample(n, generator)``, ``pdf``, ``mean``, ``var``, ``moment(k)``
and ``expect(fn)`` (by quadrature on [0, 1]). Sampling draws a seed from the
torch generator and uses a NumPy generator, so no global random state is read.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import torch
from scipy import integrate, special, stats

LAWS: dict[str, type] = {}


def register(name: str):
    """Class decorator: make a lambda law available as ``build_law(name, ...)``."""
    def deco(cls):
        LAWS[name] = cls
        cls.name = name
        return cls
    return deco


def build_law(name: str, **kwargs) -> "LambdaLaw":
    """Build a registered law by name; an unknown name lists the valid ones."""
    if name not in LAWS:
        raise ValueError(f"unknown lambda law {name!r}; valid laws: {sorted(LAWS)}")
    return LAWS[name](**kwargs)


def numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A NumPy generator seeded from ``generator`` (advancing it), never global state."""
    if generator is None:
        raise ValueError("generator: pass a torch.Generator; nothing here reads global random state")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return np.random.default_rng(seed)


def check_positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class LambdaLaw:
    """A law on [0, 1]. Subclasses define ``pdf`` and ``_sample``; moments default to quadrature."""

    name = "law"

    def pdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` draws as a float32 tensor of shape (n,)."""
        return torch.from_numpy(self._sample(int(n), numpy_rng(generator))).float()

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0

    def expect(self, fn: Callable[[float], float]) -> float:
        """E[fn(lam)] by adaptive quadrature (the density may be singular at the ends)."""
        lo, hi = self.support()
        val, _ = integrate.quad(lambda t: fn(t) * float(self.pdf(np.array(t))), lo, hi,
                                limit=200, epsabs=1e-12, epsrel=1e-10)
        return float(val)

    def moment(self, k: int) -> float:
        """E[lam^k]."""
        return self.expect(lambda t: t**k)

    def mean(self) -> float:
        return self.moment(1)

    def var(self) -> float:
        return self.moment(2) - self.mean() ** 2

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


@register("beta")
class Beta(LambdaLaw):
    """Beta(a, b); ``Beta(alpha)`` is the symmetric Beta(alpha, alpha) of mixup."""

    def __init__(self, a: float = 1.0, b: float | None = None):
        self.a = check_positive("alpha", a)
        self.b = self.a if b is None else check_positive("beta", b)

    def pdf(self, x):
        return stats.beta.pdf(x, self.a, self.b)

    def _sample(self, n, rng):
        return rng.beta(self.a, self.b, size=n)

    def moment(self, k: int) -> float:
        # E[lam^k] = prod_{r<k} (a + r) / (a + b + r)
        return float(np.prod([(self.a + r) / (self.a + self.b + r) for r in range(k)]))

    def expect(self, fn):
        # QUADPACK's QAWS integrates fn against t^(a-1) (1-t)^(b-1) exactly at the singular
        # ends (alpha < 1) and adaptively inside, so kinks of fn (ReLU, max) are handled too.
        # The tight tolerances ask for all the accuracy float64 allows. On integrands with
        # many kinks QUADPACK stops short of them with a roundoff warning and a conservative
        # error estimate (F2's ReLU network: estimate 9e-6, true error about 1e-8, checked
        # against one quadrature per pair), so we warn only when the estimate itself is large.
        # The weighted integral is of the size of B(a, b), tiny for large a and b (B(128, 128) is
        # about 1e-78): the absolute tolerance scales with it, or QUADPACK accepts a crude answer
        # at once. Past float64's range (Beta(1024, 1024)) the weight itself underflows: there we
        # integrate fn against the density, computed in logs, over the window holding its mass
        # (also for a + b > 100, where QAWS's Chebyshev moments of the weight lose accuracy).
        scale = special.beta(self.a, self.b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            if min(self.a, self.b) >= 1 and self.a + self.b > 100:
                lo, hi = stats.beta.ppf(1e-15, self.a, self.b), stats.beta.isf(1e-15, self.a, self.b)
                mode = (self.a - 1) / (self.a + self.b - 2)
                val, err = integrate.quad(lambda t: fn(t) * stats.beta.pdf(t, self.a, self.b), lo, hi,
                                          points=[mode], limit=200, epsabs=1e-13, epsrel=1e-11)
                scale = 1.0
            else:
                val, err = integrate.quad(fn, 0.0, 1.0, weight="alg", wvar=(self.a - 1, self.b - 1),
                                          limit=200, epsabs=1e-13 * min(1.0, scale), epsrel=1e-11)
        if err > 1e-4 * max(scale, abs(val)):
            warnings.warn(f"Beta({self.a:g}, {self.b:g}).expect: quadrature error estimate {err:.2e} "
                          f"for value {val / scale:.6g}", integrate.IntegrationWarning, stacklevel=2)
        return float(val / scale)


@register("mixture")
class Mixture(LambdaLaw):
    """sum_k w_k law_k."""

    def __init__(self, laws: list[LambdaLaw], weights: list[float]):
        w = np.asarray(weights, dtype=float)
        if len(laws) != len(w) or len(w) == 0 or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError("weights must be non-negative, one per law, and sum to 1")
        self.laws, self.weights = list(laws), w

    def pdf(self, x):
        return sum(w * law.pdf(x) for w, law in zip(self.weights, self.laws))

    def _sample(self, n, rng):
        which = rng.choice(len(self.laws), size=n, p=self.weights)
        out = np.empty(n)
        for k, law in enumerate(self.laws):
            idx = np.flatnonzero(which == k)
            out[idx] = law._sample(len(idx), rng)
        return out

    def expect(self, fn):
        return float(sum(w * law.expect(fn) for w, law in zip(self.weights, self.laws)))

    def moment(self, k):
        return float(sum(w * law.moment(k) for w, law in zip(self.weights, self.laws)))


@register("label_weight")
class LabelWeight(Mixture):
    """D~ = a/(a+b) Beta(a+1, b) + b/(a+b) Beta(b+1, a).

    The law of the weight that example i keeps once the Bernoulli label choice is
    integrated out (Zhang et al. 2021, eq. 9 and Lemma 3.1): for lam ~ Beta(a, b),
    E_lam[lam g(lam) + (1 - lam) g~(1 - lam)] = E_{lam ~ D~}[g(lam)] when the pair
    sum is symmetric (see ``foundations``, item F3).
    """

    def __init__(self, a: float = 1.0, b: float | None = None):
        a = check_positive("alpha", a)
        b = a if b is None else check_positive("beta", b)
        self.a, self.b = a, b
        super().__init__([Beta(a + 1, b), Beta(b + 1, a)], [a / (a + b), b / (a + b)])


@register("folded")
class Folded(LambdaLaw):
    """The law of max(lam, 1 - lam) for lam ~ ``base`` (Carratino et al. 2022, Theorem 1)."""

    def __init__(self, base: LambdaLaw | None = None):
        self.base = base if base is not None else Beta(1.0)

    def support(self):
        return 0.5, 1.0

    def pdf(self, x):
        x = np.asarray(x, dtype=float)
        inside = (x >= 0.5) & (x <= 1.0)
        return np.where(inside, self.base.pdf(x) + self.base.pdf(1 - x), 0.0)

    def _sample(self, n, rng):
        lam = self.base._sample(n, rng)
        return np.maximum(lam, 1 - lam)

    def expect(self, fn):
        return self.base.expect(lambda t: fn(max(t, 1 - t)))


@register("symmetric")
class Symmetrized(LambdaLaw):
    """lam ~ ``base`` or 1 - lam ~ ``base``, each with probability 1/2: symmetric about 1/2."""

    def __init__(self, base: LambdaLaw):
        self.base = base

    def pdf(self, x):
        return 0.5 * (self.base.pdf(x) + self.base.pdf(1 - np.asarray(x, dtype=float)))

    def _sample(self, n, rng):
        lam = self.base._sample(n, rng)
        return np.where(rng.random(n) < 0.5, lam, 1 - lam)

    def expect(self, fn):
        return 0.5 * (self.base.expect(fn) + self.base.expect(lambda t: fn(1 - t)))


@register("stretched")
class Stretched(LambdaLaw):
    """lo + (hi - lo) X for X ~ ``base``: a law moved onto [lo, hi] inside [0, 1].

    With ``Mixture`` it builds the W-shaped law of the carratino2022 slides ("Towards
    stronger regularization"): (X + Z) / 2 with Z ~ Bernoulli(1/2), i.e. an equal mixture of
    ``Stretched(Beta(a), 0, 0.5)`` and ``Stretched(Beta(a), 0.5, 1)``.
    """

    def __init__(self, base: LambdaLaw | None = None, lo: float = 0.0, hi: float = 1.0):
        if not (0.0 <= lo < hi <= 1.0):
            raise ValueError(f"lo, hi must satisfy 0 <= lo < hi <= 1, got lo={lo!r}, hi={hi!r}")
        self.base = base if base is not None else Beta(1.0)
        self.lo, self.hi = float(lo), float(hi)

    def support(self):
        return self.lo, self.hi

    def pdf(self, x):
        x = np.asarray(x, dtype=float)
        w = self.hi - self.lo
        inside = (x >= self.lo) & (x <= self.hi)
        return np.where(inside, self.base.pdf(np.clip((x - self.lo) / w, 0.0, 1.0)) / w, 0.0)

    def _sample(self, n, rng):
        return self.lo + (self.hi - self.lo) * self.base._sample(n, rng)

    def expect(self, fn):
        return self.base.expect(lambda t: fn(self.lo + (self.hi - self.lo) * t))


@register("discrete")
class Discrete(LambdaLaw):
    """A law on finitely many points of [0, 1]: P(lam = values[k]) = probs[k].

    ``Discrete([0, 0.5, 1], [1/6, 2/3, 1/6])`` maximises sigma^2 / theta_bar^2 of the folded
    law among symmetric laws (chapter carratino2022, C6). It has no density; ``pdf`` raises.
    """

    def __init__(self, values: list[float] = (0.0, 0.5, 1.0), probs: list[float] = (1 / 6, 2 / 3, 1 / 6)):
        v, p = np.asarray(values, dtype=float), np.asarray(probs, dtype=float)
        if v.ndim != 1 or v.shape != p.shape or len(v) == 0:
            raise ValueError("values, probs: two lists of one length >= 1")
        if np.any(v < 0) or np.any(v > 1):
            raise ValueError(f"values must lie in [0, 1], got {v.tolist()}")
        if np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise ValueError(f"probs must be non-negative and sum to 1, got {p.tolist()}")
        self.values, self.probs = v, p / p.sum()

    def pdf(self, x):
        raise ValueError("pdf: a discrete law has no density; use expect, moment or sample")

    def _sample(self, n, rng):
        return self.values[rng.choice(len(self.values), size=n, p=self.probs)]

    def expect(self, fn):
        return float(sum(p * fn(float(v)) for v, p in zip(self.values, self.probs)))


def law_from_spec(spec) -> LambdaLaw:
    """Build a law from a plain spec (for papermill parameters and JSON configs).

    ``spec`` is a law, a registered name, or a dict ``{"name": ..., **kwargs}`` whose values may
    themselves be specs (dicts with a ``"name"``, or lists of them), e.g. the W-shaped law
    ``{"name": "mixture", "laws": [{"name": "stretched", "base": {"name": "beta", "a": 0.5},
    "hi": 0.5}, ...], "weights": [0.5, 0.5]}``.
    """
    if isinstance(spec, LambdaLaw):
        return spec
    if isinstance(spec, str):
        return build_law(spec)
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"law: expected a LambdaLaw, a name in {sorted(LAWS)} or a dict with 'name', got {spec!r}")

    def build(v):
        if isinstance(v, dict) and "name" in v:
            return law_from_spec(v)
        if isinstance(v, (list, tuple)) and v and all(isinstance(e, dict) and "name" in e for e in v):
            return [law_from_spec(e) for e in v]
        return v

    kwargs = {k: build(v) for k, v in spec.items() if k != "name"}
    return build_law(spec["name"], **kwargs)


def is_symmetric(law: LambdaLaw, tol: float = 1e-7) -> bool:
    """True when lam and 1 - lam have the same first five moments (a law symmetric about 1/2)."""
    return all(abs(law.expect(lambda t, k=k: t**k) - law.expect(lambda t, k=k: (1 - t) ** k)) < tol
               for k in range(1, 6))


def example_laws() -> dict[str, LambdaLaw]:
    """One instance of every registered law, for tables (F4) and registry tests."""
    return {
        "beta": Beta(0.4),
        "mixture": Mixture([Beta(2.0), Beta(0.5, 3.0)], [0.3, 0.7]),
        "label_weight": LabelWeight(0.4),
        "folded": Folded(Beta(0.4)),
        "symmetric": Symmetrized(Beta(2.0, 5.0)),
        "stretched": Stretched(Beta(0.5), 0.5, 1.0),
        "discrete": Discrete([0.0, 0.5, 1.0], [1 / 6, 2 / 3, 1 / 6]),
    }
