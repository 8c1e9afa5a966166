"""Training objectives behind one registry.

An objective turns (model, x, y, generator) into a scalar loss. A new mixup variant
is one small class plus ``@register("name")``; ``tests/test_methods.py`` is
parametrized over ``OBJECTIVES``, so a registered variant is tested at once. Chapter
``extending`` walks through adding one.

* ``erm``: soft cross-entropy on the clean batch.
* ``mixup``: Zhang et al. (2018) eq. (1) with lam ~ Beta(alpha, alpha) or any
  ``LambdaLaw``; one lam per batch (the original recipe) or one per example.
* ``mixupe`` / ``mixupe_code``: Zou et al. (2023) eq. (7)-(9), and what their public code
  computes instead (chapter ``zou2023``).
* ``cutmix``, ``label_smoothing``, ``mixup_cutmix``: the variants timm and torchvision users
  know; ``tests/test_methods.py`` checks them against ``torchvision.transforms.v2`` on the same draws.
"""
from __future__ import annotations

import torch

from .lam import Beta, LambdaLaw, check_positive
from .losses import soft_cross_entropy
from .mixing import as_soft, cutmix, mix, sample_box, sample_pairing, smooth_labels, to_device

OBJECTIVES: dict[str, type] = {}


def register(name: str):
    """Class decorator: make an objective available as ``build_objective(name, ...)``.

    A name is registered once; another class under a taken name raises ValueError. A
    redefinition of the same class (same module and qualified name, as when a notebook
    cell that defines a variant is run again) replaces the old definition.
    """
    def deco(cls):
        old = OBJECTIVES.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"objective {name!r} is already registered")
        OBJECTIVES[name] = cls
        cls.name = name
        return cls
    return deco


def list_objectives() -> list[str]:
    return sorted(OBJECTIVES)


def build_objective(name: str, num_classes: int, **kwargs) -> "Objective":
    """Build a registered objective; an unknown name lists the valid ones."""
    if name not in OBJECTIVES:
        raise ValueError(f"method: unknown {name!r}; valid methods: {list_objectives()}")
    return OBJECTIVES[name](num_classes=num_classes, **kwargs)


class Objective:
    """Base class: ``loss(model, x, y, generator)`` -> scalar tensor."""

    name = "objective"
    step_cost = 1.0   # FLOPs of one step relative to a plain forward-backward of the batch (for plans)
    inputs = ("flat", "image")   # the batches it takes: flat (B, d) and/or images (B, C, H, W); tests use both

    def __init__(self, num_classes: int):
        self.num_classes = int(num_classes)

    def loss(self, model, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, model, x, y, generator):
        return self.loss(model, x, y, generator)


@register("erm")
class ERM(Objective):
    """Empirical risk: soft cross-entropy on the clean batch."""

    def loss(self, model, x, y, generator):
        return soft_cross_entropy(model(x), as_soft(y, self.num_classes))


@register("mixup")
class Mixup(Objective):
    """Mixup: CE(f(lam x + (1-lam) x'), lam y + (1-lam) y') with lam ~ ``law`` (default Beta(alpha, alpha))."""

    def __init__(self, num_classes: int, alpha: float = 1.0, law: LambdaLaw | None = None,
                 per_example: bool = False):
        super().__init__(num_classes)
        self.law = law if law is not None else Beta(check_positive("alpha", alpha))
        self.per_example = bool(per_example)

    def loss(self, model, x, y, generator):
        lam, perm = sample_pairing(x.shape[0], self.law, generator, self.per_example)
        x_mix, y_mix = mix(x, as_soft(y, self.num_classes), to_device(lam, x.device), to_device(perm, x.device))
        return soft_cross_entropy(model(x_mix), y_mix)


# ---------------------------------------------------------------- Zou et al. 2023 (MixupE)
class _BatchNormFromFirst:
    """Context: every training-mode batch-norm layer of ``model`` normalises its whole input with
    the statistics of the first ``n`` rows (and updates running statistics from those rows only);
    for the other rows those statistics are constants (no gradient flows back through them).

    MixupE's fused pass feeds [x_mix; x] (2B) through the network once; with this, the mixed
    half sees exactly what a plain mixup step would (same logits, same running statistics),
    and the clean half is normalised like the mixed batch. Book chapter ``zou2023``, E4.
    """

    def __init__(self, model, n: int):
        self.model, self.n = model, int(n)
        self.layers = [m for m in model.modules()
                       if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training]

    def _forward(self, m):
        def forward(inp):
            if m.track_running_stats:
                m.num_batches_tracked.add_(1)
                factor = m.momentum if m.momentum is not None else 1.0 / float(m.num_batches_tracked)
            else:
                factor = 0.0
            running = (m.running_mean, m.running_var) if m.track_running_stats else (None, None)
            # the mixed half: exactly nn.BatchNorm's training step (native kernel, running stats updated)
            out_first, mean, invstd = torch.ops.aten.native_batch_norm(
                inp[:self.n], m.weight, m.bias, *running, True, factor, m.eps)
            # the clean half: normalised with the mixed half's statistics, taken as constants
            var = invstd.detach().pow(-2) - m.eps
            out_rest = torch.nn.functional.batch_norm(inp[self.n:], mean.detach(), var, m.weight, m.bias,
                                                      False, 0.0, m.eps)
            return torch.cat([out_first, out_rest])
        return forward

    def __enter__(self):
        for m in self.layers:
            m.forward = self._forward(m)
        return self

    def __exit__(self, *exc):
        for m in self.layers:
            del m.forward
        return False


def forward_mixed_and_clean(model, x_mix: torch.Tensor, x: torch.Tensor):
    """(logits of x_mix, logits of x) from one forward of size 2B; batch-norm statistics from x_mix only."""
    with _BatchNormFromFirst(model, x_mix.shape[0]):
        out = model(torch.cat([x_mix, x]))
    return out[:x_mix.shape[0]], out[x_mix.shape[0]:]


@register("mixupe")
class MixupE(Objective):
    """MixupE as the paper writes it: Zou et al. (2023), eq. (7)-(9).

    loss = eta_hat (L_mix + eta R), R = E[1 - lam] mean_i |q~(x_i)|, lam ~ D~ (so
    E[1 - lam] = alpha / (2 alpha + 1)), q~ = q-hat (eq. 5, ``q="approx"``) or q (eq. 4,
    ``q="exact"``, one double backward), and eta_hat = |L_mix| / |L_mix + eta R| held
    constant (no gradient: with a gradient the product would equal |L_mix| and the
    regulariser would vanish; see ``zou2023``). ``mix=False`` gives the ablation ERM + R
    (Table 7). ``fused=True``: the clean pass shares one forward with the mixed pass,
    batch-norm statistics from the mixed half only (``forward_mixed_and_clean``).
    """

    def __init__(self, num_classes: int, alpha: float = 1.0, eta: float = 1e-3, q: str = "approx",
                 mix: bool = True, fused: bool = True, x_mean: torch.Tensor | None = None):
        super().__init__(num_classes)
        from .taylor import gap_moments

        self.alpha = check_positive("alpha", alpha)
        self.law = Beta(self.alpha)
        if not (isinstance(eta, (int, float)) and eta >= 0):
            raise ValueError(f"eta must be a number >= 0, got {eta!r}")
        if q not in ("approx", "exact"):
            raise ValueError(f"q: unknown {q!r}; valid: ['approx', 'exact']")
        self.eta, self.q, self.mix, self.fused, self.x_mean = float(eta), q, bool(mix), bool(fused), x_mean
        self.gap = gap_moments(self.alpha, 1)[1]      # E[1 - lam], lam ~ D~
        # the clean pass doubles a mixup step; q="exact" adds an input gradient built for a double
        # backward (about two passes more, a rough count); ERM + R reuses its one pass
        self.step_cost = (2.0 if self.mix else 1.0) + (2.0 if q == "exact" else 0.0)

    def _forward(self, model, x, y_soft, generator):
        """(L_mix or L_erm, logits of the clean batch)."""
        if not self.mix:
            logits = model(x)
            return soft_cross_entropy(logits, y_soft), logits
        lam, perm = sample_pairing(x.shape[0], self.law, generator)
        x_mix, y_mix = mix(x, y_soft, to_device(lam, x.device), to_device(perm, x.device))
        if self.fused:
            out_mix, logits = forward_mixed_and_clean(model, x_mix, x)
        else:
            out_mix, logits = model(x_mix), model(x)
        return soft_cross_entropy(out_mix, y_mix), logits

    def per_example_q(self, model, x, y_soft, logits):
        from .taylor import q_exact, q_hat

        if self.q == "approx":
            return q_hat(logits, y_soft)
        return q_exact(model, x, y_soft, self.x_mean, create_graph=True)

    def regulariser(self, model, x, y_soft, logits) -> torch.Tensor:
        return self.gap * self.per_example_q(model, x, y_soft, logits).abs().mean()

    def loss(self, model, x, y, generator):
        y_soft = as_soft(y, self.num_classes)
        base, logits = self._forward(model, x, y_soft, generator)
        total = base + self.eta * self.regulariser(model, x, y_soft, logits)
        return (base.detach().abs() / total.detach().abs()) * total


@register("mixupe_code")
class MixupECode(MixupE):
    """MixupE as the authors' public code computes it (github.com/oneHuster/MixupE, ``mixup.py``,
    ``mixupe_version=3``, the fastest version): Zou et al. (2023), chapter ``zou2023``, E4.

    Differences from eq. (7)-(9) (``MixupE``): only examples with q-hat(x_i) < ``threshold``
    enter (the code's default is -1); the signed sum is subtracted,
    R_code = E[1 - lam] sum_{kept} q-hat(x_i) / B and loss = L_mix - eta R_code, instead of
    adding eta E[1 - lam] mean |q-hat|; the softmax inside q-hat is not detached; the result
    is rescaled by |L_mix| / |L_mix - eta R_code| (held constant). ``fused=False`` (default,
    as in the code): a second forward pass on the clean batch in train mode, so batch-norm
    layers use, and record, the clean batch's statistics.

    ``clean_pass="kept"``: the same value and gradient for less work. Only the kept examples
    carry gradient, so a no-grad forward of the clean batch selects them and a forward and
    backward of the kept rows alone computes their term: per step 4/3 + k mixup steps in FLOPs
    (k the kept fraction) against 2 for ``"full"``. Exact only when each example's logits
    depend on that example alone: a model with a training-mode batch-norm layer (whose batch
    statistics couple the rows) or an active dropout layer (two passes draw two masks) is
    refused with a ValueError. At the README's threshold 1.0 most examples are kept, and then
    ``"kept"`` costs more than ``"full"`` (``benchmarks/bench_mixupe.py`` counts both).
    """

    def __init__(self, num_classes: int, alpha: float = 1.0, eta: float = 1e-3, threshold: float = -1.0,
                 fused: bool = False, clean_pass: str = "full"):
        super().__init__(num_classes, alpha=alpha, eta=eta, q="approx", mix=True, fused=fused)
        if not isinstance(threshold, (int, float)) or threshold != threshold:
            raise ValueError(f"threshold must be a number (the code's default is -1.0), got {threshold!r}")
        if clean_pass not in CLEAN_PASSES:
            raise ValueError(f"clean_pass: unknown {clean_pass!r}; valid: {list(CLEAN_PASSES)}")
        if clean_pass == "kept" and self.fused:
            raise ValueError("clean_pass: 'kept' runs its own clean pass and needs fused=False; valid with "
                             "fused=True: ['full']")
        self.threshold, self.clean_pass = float(threshold), clean_pass
        self.step_cost = 2.0 if clean_pass == "full" else 7 / 3   # "kept": 4/3 + k with k <= 1 (upper bound)

    def _total(self, base, kept_q_sum, n):
        total = base - self.eta * self.gap * kept_q_sum / n
        return (base.detach().abs() / total.detach().abs()) * total

    def loss(self, model, x, y, generator):
        from .taylor import q_hat

        y_soft = as_soft(y, self.num_classes)
        if self.clean_pass == "kept":
            return self._loss_kept(model, x, y_soft, generator)
        base, logits = self._forward(model, x, y_soft, generator)
        qh = q_hat(logits, y_soft)
        keep = (qh.detach() < self.threshold).to(qh.dtype)
        return self._total(base, (qh * keep).sum(), x.shape[0])

    def _loss_kept(self, model, x, y_soft, generator):
        from .taylor import q_hat

        check_rowwise(model, "clean_pass='kept'")
        lam, perm = sample_pairing(x.shape[0], self.law, generator)
        x_mix, y_mix = mix(x, y_soft, to_device(lam, x.device), to_device(perm, x.device))
        base = soft_cross_entropy(model(x_mix), y_mix)
        with torch.no_grad():
            kept = (q_hat(model(x), y_soft) < self.threshold).nonzero().squeeze(1)  # (K,); reads K on the host
        if len(kept) == 0:
            return self._total(base, base.new_zeros(()), x.shape[0])
        return self._total(base, q_hat(model(x[kept]), y_soft[kept]).sum(), x.shape[0])


CLEAN_PASSES = ("full", "kept")


def check_rowwise(model, what: str) -> None:
    """Raise ValueError unless each example's output depends on that example alone (in train mode):
    no training-mode batch norm (batch statistics couple the rows), no active dropout (each pass
    draws its own mask)."""
    for name, m in model.named_modules():
        if m.training and isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            raise ValueError(f"{what}: exact only for models without training-mode batch norm; "
                             f"{type(model).__name__} has {type(m).__name__} at {name!r}; valid there: "
                             "clean_pass='full'")
        if m.training and isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0:
            raise ValueError(f"{what}: exact only without active dropout; {name!r} has p={m.p}; valid "
                             "there: clean_pass='full'")


# ---------------------------------------------------------------- Zhang et al. 2021
@register("approx_mixup")
class ApproxMixup(Objective):
    """Train on the quadratic surrogate L_std + R1 + R2 + R3 of Zhang et al. (2021), Lemma 3.1, eq. (3).

    ``loss="cross_entropy"`` (default): logits (B, C) with h = logsumexp, the multi-class form of
    the same lemma (cross-entropy is h(f) - y . f); a scalar member (``"logistic"``,
    ``"squared"``, ``"poisson"``) needs a model with one output. ``pairs="batch"``: E over the
    partner r_x estimated by one random partner per example (unbiased); ``"all"``: exact over
    the batch's B^2 ordered pairs. lam's weights E[1-lam], E[(1-lam)^2] are exact under D~.
    Chapter ``zhang2021``.
    """

    def __init__(self, num_classes: int, alpha: float = 1.0, beta: float | None = None,
                 loss: str = "cross_entropy", pairs: str = "batch"):
        from .taylor import ZHANG_LOSSES

        super().__init__(num_classes)
        self.alpha = check_positive("alpha", alpha)
        self.beta = None if beta is None else check_positive("beta", beta)
        if loss not in ZHANG_LOSSES:
            raise ValueError(f"loss: unknown {loss!r}; valid: {list(ZHANG_LOSSES)}")
        if pairs not in ("batch", "all"):
            raise ValueError(f"pairs: unknown {pairs!r}; valid: ['all', 'batch']")
        self.loss_name, self.pairs = loss, pairs

    inputs = ("flat",)   # input derivatives through torch.func: batch-norm buffer updates are refused there

    def loss(self, model, x, y, generator):
        from .taylor import quadratic_surrogate

        partners = None if self.pairs == "all" else to_device(torch.randperm(x.shape[0], generator=generator), x.device)
        return quadratic_surrogate(model, x, y, self.alpha, self.beta, self.loss_name, partners)


@register("manifold_mixup")
class ManifoldMixup(Objective):
    """Manifold mixup (Verma et al. 2019): mix hidden features and labels, CE at the head.

    The model is split by ``mixing.split_model`` (``features``/``head`` attributes, or an
    ``nn.Sequential`` ``net`` split before module ``layer``; default: the last hidden layer,
    the setting of Zhang et al. (2021), Lemma 3.4). Chapter ``zhang2021``.
    """

    def __init__(self, num_classes: int, alpha: float = 1.0, law: LambdaLaw | None = None, layer: int = -1,
                 per_example: bool = False):
        super().__init__(num_classes)
        self.law = law if law is not None else Beta(check_positive("alpha", alpha))
        self.layer, self.per_example = int(layer), bool(per_example)

    def loss(self, model, x, y, generator):
        from .mixing import split_model

        features, head = split_model(model, self.layer)
        lam, perm = sample_pairing(x.shape[0], self.law, generator, self.per_example)
        lam, perm = to_device(lam, x.device), to_device(perm, x.device)
        h_mix, y_mix = mix(features(x), as_soft(y, self.num_classes), lam, perm)
        return soft_cross_entropy(head(h_mix), y_mix)


@register("mixup_law")
class MixupLaw(Mixup):
    """Mixup with lam from a law given as a plain spec (name or dict), so configs and papermill can pick it.

    E.g. ``law={"name": "beta", "a": 0.5}`` or the W-shaped law of the carratino2022 slides
    (chapter carratino2022, C6); see ``lam.law_from_spec``.
    """

    def __init__(self, num_classes: int, law="beta", per_example: bool = False):
        from .lam import law_from_spec

        super().__init__(num_classes, law=law_from_spec(law), per_example=per_example)


@register("carratino_approx")
class CarratinoApprox(Objective):
    """Approximate mixup of Carratino et al. (2022), Corollary 4: CE on the batch's shrunk points
    (x~, y~) plus the quadratic regularisers, with the batch as the training set
    (``taylor.carratino_surrogate``). Deterministic: no lam or pairing is drawn. Input Jacobians
    and Hessians per example: for small inputs (chapter carratino2022, C4).

    Only laws symmetric about 1/2 are accepted. That is a convention of this objective, not a
    condition of the theory: Theorem 1 and the surrogate depend on the law only through the folded
    law of max(lam, 1 - lam), so an asymmetric law gives the surrogate of its symmetrisation; asking
    for the symmetric law keeps one spelling per surrogate in a config.
    """

    def __init__(self, num_classes: int, alpha: float = 1.0, law=None, jacobian_terms: bool = True,
                 hessian_term: bool = True):
        from .lam import is_symmetric, law_from_spec

        super().__init__(num_classes)
        self.law = law_from_spec(law) if law is not None else Beta(check_positive("alpha", alpha))
        if not is_symmetric(self.law):
            raise ValueError(f"law: carratino_approx takes a law symmetric about 1/2 by convention (an "
                             f"asymmetric law has the surrogate of its symmetrisation: pass that), got {self.law!r}")
        self.jacobian_terms, self.hessian_term = bool(jacobian_terms), bool(hessian_term)

    inputs = ("flat",)   # per-example input Jacobians and Hessians: small flat inputs only

    def loss(self, model, x, y, generator):
        from .taylor import carratino_surrogate

        x = x.reshape(len(x), -1)
        return carratino_surrogate(model, x, as_soft(y, self.num_classes).to(x.dtype), self.law,
                                   self.jacobian_terms, self.hessian_term)


# ---------------------------------------------------------------- CutMix, label smoothing, switching
def check_probability(name: str, p) -> float:
    if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {p!r}")
    return float(p)


@register("label_smoothing")
class LabelSmoothing(Objective):
    """ERM against smoothed labels (1 - smoothing) y + smoothing / C (Szegedy et al. 2016): the same
    loss as ``F.cross_entropy(..., label_smoothing=smoothing)``."""

    def __init__(self, num_classes: int, smoothing: float = 0.1):
        super().__init__(num_classes)
        self.smoothing = check_probability("smoothing", smoothing)

    def loss(self, model, x, y, generator):
        return soft_cross_entropy(model(x), smooth_labels(as_soft(y, self.num_classes), self.smoothing))


def cutmix_draw(x: torch.Tensor, alpha: float, generator: torch.Generator):
    """(box, perm) for CutMix of the image batch x (B, C, H, W): lam ~ Beta(alpha, alpha), then the box."""
    if x.dim() != 4:
        raise ValueError(f"x: cutmix needs a batch of images (B, C, H, W), got shape {tuple(x.shape)}")
    perm = torch.randperm(x.shape[0], generator=generator)
    lam = Beta(alpha).sample(1, generator)[0]
    return sample_box(float(lam), x.shape[-2], x.shape[-1], generator), perm


@register("cutmix")
class CutMix(Objective):
    """CutMix (Yun et al. 2019): paste a box of a partner image, mix labels by the kept area
    (``mixing.cutmix``); lam ~ Beta(alpha, alpha) sets the box size, labels use the area after
    clipping (torchvision's ``lam_adjusted``, timm's ``correct_lam``). Images only."""

    inputs = ("image",)

    def __init__(self, num_classes: int, alpha: float = 1.0):
        super().__init__(num_classes)
        self.alpha = check_positive("alpha", alpha)

    def loss(self, model, x, y, generator):
        box, perm = cutmix_draw(x, self.alpha, generator)
        x_mix, y_mix = cutmix(x, as_soft(y, self.num_classes), box, to_device(perm, x.device))
        return soft_cross_entropy(model(x_mix), y_mix)


@register("mixup_cutmix")
class MixupCutMix(Objective):
    """timm's ``Mixup`` in batch mode: each batch is CutMix with probability ``switch_prob``
    (lam ~ Beta(cutmix_alpha)), else mixup (lam ~ Beta(mixup_alpha)), with labels smoothed by
    ``smoothing`` before mixing. Defaults: the DeiT recipe (0.8, 1.0, 0.5, 0.1). Images only."""

    inputs = ("image",)

    def __init__(self, num_classes: int, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0,
                 switch_prob: float = 0.5, smoothing: float = 0.1):
        super().__init__(num_classes)
        self.mixup_alpha = check_positive("mixup_alpha", mixup_alpha)
        self.cutmix_alpha = check_positive("cutmix_alpha", cutmix_alpha)
        self.switch_prob = check_probability("switch_prob", switch_prob)
        self.smoothing = check_probability("smoothing", smoothing)

    def loss(self, model, x, y, generator):
        if x.dim() != 4:
            raise ValueError(f"x: mixup_cutmix needs a batch of images (B, C, H, W), got shape {tuple(x.shape)}")
        y_soft = smooth_labels(as_soft(y, self.num_classes), self.smoothing)
        if float(torch.rand((), generator=generator)) < self.switch_prob:
            box, perm = cutmix_draw(x, self.cutmix_alpha, generator)
            x_mix, y_mix = cutmix(x, y_soft, box, to_device(perm, x.device))
        else:
            lam, perm = sample_pairing(x.shape[0], Beta(self.mixup_alpha), generator)
            x_mix, y_mix = mix(x, y_soft, to_device(lam, x.device), to_device(perm, x.device))
        return soft_cross_entropy(model(x_mix), y_mix)


# ---------------------------------------------------------------- mechanism arms (chapter synthesis)
@register("first_order_mixup")
class FirstOrderMixup(Objective):
    """ERM plus only the first-order term of the mixup loss's expansion: L_erm + E[1 - lam] mean_i q(x_i),
    q(x_i) = (softmax(f(x_i)) - y_i)^T J_f(x_i) (x_bar - x_i) (Zou et al. 2023, eq. 4; ``taylor.q_exact``),
    lam ~ D~, so E[1 - lam] = alpha / (2 alpha + 1); x_bar is the batch mean.

    It equals L_std + R1 of Zhang et al. (2021), Lemma 3.1, with the partner averaged over the
    batch (R1 is linear in the partner). Signed, without MixupE's absolute value or its eta: the
    term mixup itself carries to first order. The mechanism-arm experiment of chapter
    ``synthesis`` trains it to ask how much of mixup's gain that term alone gives.
    """

    def __init__(self, num_classes: int, alpha: float = 1.0):
        from .taylor import gap_moments

        super().__init__(num_classes)
        self.alpha = check_positive("alpha", alpha)
        self.gap = gap_moments(self.alpha, 1)[1]      # E[1 - lam], lam ~ D~
        self.step_cost = 3.0   # a forward, an input gradient with its graph, and the double backward (rough)

    def loss(self, model, x, y, generator):
        from .taylor import q_exact

        y_soft = as_soft(y, self.num_classes)
        base = soft_cross_entropy(model(x), y_soft)
        return base + self.gap * q_exact(model, x, y_soft, create_graph=True).mean()


def same_class_pairing(y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """perm (B,) pairing each example with a random example of its own (given) label; an example
    alone in its class is paired with itself. ``y``: labels (B,) or soft labels (B, C) (argmax)."""
    labels = y.argmax(-1) if y.dim() == 2 else y
    labels = labels.cpu()
    perm = torch.arange(len(labels))
    for c in torch.unique(labels).tolist():   # sorted: the draws do not depend on the batch order of classes
        idx = (labels == c).nonzero().squeeze(1)
        perm[idx] = idx[torch.randperm(len(idx), generator=generator)]
    return perm


@register("same_class_mixup")
class SameClassMixup(Objective):
    """Mixup with each example's partner drawn from its own (given) class: inputs are mixed with
    lam ~ Beta(alpha, alpha), labels stay one-hot. No mixed point carries a mixed label, so no
    point can collide with a mixed point of other classes (the geometry of Chidambaram et al. 2022
    plays no part). An arm of the mechanism-arm experiment, chapter ``synthesis``."""

    def __init__(self, num_classes: int, alpha: float = 1.0):
        super().__init__(num_classes)
        self.law = Beta(check_positive("alpha", alpha))

    def loss(self, model, x, y, generator):
        perm = same_class_pairing(y, generator)
        lam = self.law.sample(1, generator)[0]
        x_mix, y_mix = mix(x, as_soft(y, self.num_classes), to_device(lam, x.device), to_device(perm, x.device))
        return soft_cross_entropy(model(x_mix), y_mix)


@register("fgsm_training")
class FGSMTraining(Objective):
    """Adversarial training with one FGSM step (Goodfellow et al. 2014): CE at x + eps step(grad_x CE),
    ``norm="l2"`` (x + eps grad/||grad||, the ball of Zhang et al. 2021, Theorems 3.1 and 3.3) or
    ``"linf"``; ``clip`` = (lo, hi) keeps inputs in range. The robustness arm of the mechanism-arm
    experiment (chapter ``synthesis``), at a radius the notebook computes as Theorem 3.3 says."""

    step_cost = 2.0   # the attack's forward-backward, then the training step

    def __init__(self, num_classes: int, eps: float = 0.1, norm: str = "l2", clip: tuple | None = None):
        from . import adversarial

        super().__init__(num_classes)
        adversarial._check(norm, eps)
        if clip is not None and not (len(clip) == 2 and float(clip[0]) < float(clip[1])):
            raise ValueError(f"clip: (lo, hi) with lo < hi, or None, got {clip!r}")
        self.eps, self.norm = float(eps), norm
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))

    def loss(self, model, x, y, generator):
        from .adversarial import fgsm

        x_adv = fgsm(model, x, y, self.eps, norm=self.norm, clip=self.clip)
        return soft_cross_entropy(model(x_adv), as_soft(y, self.num_classes))
