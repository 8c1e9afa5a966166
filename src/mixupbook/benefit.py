"""Book-scale regimes where mixup helps, and the measures of its benefit (opening chapter).

On clean, plentiful data a small network gains little or nothing from mixup; the papers' benefits
show where ERM overfits: noisy labels, few examples, over-confident predictions, small input
perturbations. Each ``Regime`` is one such setting on offline data, small enough for a 2-core CPU,
registered by name so every chapter can test a claim about an improvement where mixup does improve
(``benefit.get("digits_noise_40").config("mixup", seed=3)``). How the regimes were found, and the
control where mixup does not help, is in ``notebooks/foundations/04_where_mixup_helps``.

``measure`` scores a trained model: clean test accuracy, test NLL, expected calibration error
(Guo et al. 2017, equal-width confidence bins) and accuracy under FGSM and under PGD. FGSM alone can
overstate robustness when a model's loss surface masks gradients, so both are reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import adversarial
from .experiment import ExperimentConfig, build, run

REGIMES: dict[str, "Regime"] = {}


@dataclass(frozen=True)
class Regime:
    name: str
    what: str                  # one line, for tables
    dataset: str               # a name in data.DATASETS (offline)
    label_noise: float = 0.0   # fraction of training labels redrawn uniformly (data.with_label_noise)
    n_train: int | None = None  # seeded subset of the training split (None = all)
    hidden: tuple = (128, 128)  # the MLP's hidden widths
    epochs: int = 100
    batch_size: int = 0        # 0: full batch
    lr: float = 0.01           # Adam
    alpha: float = 1.0         # mixup's Beta(alpha, alpha)
    role: str = "benefit"      # "benefit": mixup beats ERM here; "control": it does not
    dataset_kwargs: tuple = ()  # extra loader arguments, as (name, value) pairs

    def config(self, method: str = "mixup", seed: int = 0, results_dir: str = "results", device: str = "cpu",
               alpha: float | None = None) -> ExperimentConfig:
        """The experiment of this regime for ``method`` ("erm", "mixup" or any objective taking alpha)."""
        kwargs = {} if method == "erm" else {"alpha": self.alpha if alpha is None else alpha}
        return ExperimentConfig(
            name=f"regime-{self.name}", dataset=self.dataset,
            dataset_kwargs={**dict(self.dataset_kwargs), **({"label_noise": self.label_noise} if self.label_noise else {})},
            n_train=self.n_train, model="mlp", model_kwargs={"hidden": self.hidden}, method=method,
            method_kwargs=kwargs, seed=seed, device=device, results_dir=results_dir,
            train={"epochs": self.epochs, "batch_size": self.batch_size, "optimizer": "adam", "lr": self.lr,
                   "eval_every": self.epochs})


def register(regime: Regime) -> Regime:
    if regime.role not in ("benefit", "control"):
        raise ValueError(f"role: unknown {regime.role!r}; valid: ['benefit', 'control']")
    REGIMES[regime.name] = regime
    return regime


def get(name: str) -> Regime:
    if name not in REGIMES:
        raise ValueError(f"regime: unknown {name!r}; valid: {sorted(REGIMES)}")
    return REGIMES[name]


def calibration(probs: torch.Tensor, y: torch.Tensor, bins: int = 15) -> dict:
    """Expected calibration error and the reliability diagram's bins (confidence, accuracy, count).

    ECE = sum_b (n_b / n) |acc_b - conf_b| over equal-width bins of the top-class probability.
    """
    if int(bins) < 1:
        raise ValueError(f"bins must be >= 1, got {bins!r}")
    conf, pred = probs.max(-1)
    right = (pred == y).double()
    which = torch.clamp((conf * bins).long(), max=bins - 1)
    count = torch.bincount(which, minlength=bins).double()
    conf_b = torch.bincount(which, conf.double(), minlength=bins) / count.clamp(min=1)
    acc_b = torch.bincount(which, right, minlength=bins) / count.clamp(min=1)
    ece = float(((count / len(y)) * (acc_b - conf_b).abs()).sum())
    return {"ece": ece, "confidence": conf_b.tolist(), "accuracy": acc_b.tolist(), "count": count.long().tolist()}


def measure(model, data, eps: float = 0.1, pgd_steps: int = 20, seed: int = 0) -> dict:
    """Clean accuracy, NLL, ECE and FGSM / PGD accuracy at ``eps`` (L-inf, inputs kept in [0, 1])."""
    model.eval()
    x, y = data.x_test, data.y_test
    with torch.no_grad():
        logits = model(x).double()
    probs = logits.softmax(-1)
    out = {"test_acc": float((logits.argmax(-1) == y).double().mean()),
           "test_nll": float(torch.nn.functional.cross_entropy(logits, y)),
           **calibration(probs, y)}
    clip = (0.0, 1.0)
    x_fgsm = adversarial.fgsm(model, x, y, eps, clip=clip)
    x_pgd = adversarial.pgd(model, x, y, eps, steps=pgd_steps, clip=clip,
                            generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        out["fgsm_acc"] = float((model(x_fgsm).argmax(-1) == y).double().mean())
        out["pgd_acc"] = float((model(x_pgd).argmax(-1) == y).double().mean())
    return out


def run_regime(name: str, method: str, seed: int, results_dir: str, eps: float = 0.1, alpha: float | None = None) -> dict:
    """Train ``method`` in regime ``name`` at ``seed`` (or reuse its record) and ``measure`` it."""
    cfg = get(name).config(method, seed, results_dir, alpha=alpha)
    _, model = run(cfg, keep_model=True)
    data = build(cfg)[0]
    return {"regime": name, "method": method, "seed": seed, **measure(model, data, eps, seed=seed)}


# Found by the search described in notebooks/foundations/04_where_mixup_helps (three seeds per
# setting); decided there on fresh seeds. 100 full-batch Adam epochs: ERM trains to convergence.
# The control is all of clean digits: there mixup's test NLL is worse than ERM's at every seed block
# tried (0, 100, 200, 300), while its accuracy gain is a few tenths of a point (on 600 clean digits
# that gain reached 3 s.e. at some blocks, so a subset is no control).
register(Regime("digits_full", "all 1257 clean 8x8 digits", "digits", role="control"))
register(Regime("digits_noise_20", "600 digits, 20% of labels redrawn", "digits", label_noise=0.2, n_train=600))
register(Regime("digits_noise_40", "600 digits, 40% of labels redrawn", "digits", label_noise=0.4, n_train=600))
register(Regime("digits_small", "120 clean digits", "digits", n_train=120))
register(Regime("mnist1d_noise_20", "1000 MNIST-1D signals, 20% of labels redrawn", "mnist1d", label_noise=0.2,
                n_train=1000, dataset_kwargs=(("num_samples", 2000),)))


# The deformed test sets of Zou et al.'s Table 8 (rotation, shearing, zoom), as (name, kind, size).
DEFORMATIONS = (
    ("Rotation U(-20, 20)", "rotate", 20.0),
    ("Rotation U(-40, 40)", "rotate", 40.0),
    ("Shearing U(-28.6, 28.6)", "shear", 28.6),
    ("Shearing U(-57.3, 57.3)", "shear", 57.3),
    ("Zoom In (60% rescale)", "zoom", 0.6),
    ("Zoom In (80% rescale)", "zoom", 0.8),
    ("Zoom Out (120% rescale)", "zoom", 1.2),
    ("Zoom Out (140% rescale)", "zoom", 1.4),
)


def deform(x: torch.Tensor, kind: str, size: float, generator: torch.Generator) -> torch.Tensor:
    """Images ``x`` (N, C, H, W), each rotated or sheared by U(-size, size) degrees, or zoomed by 1/size."""
    import torchvision.transforms.functional as TF
    if kind not in ("rotate", "shear", "zoom"):
        raise ValueError(f"kind: unknown {kind!r}; valid: ['rotate', 'shear', 'zoom']")
    if x.dim() != 4:
        raise ValueError(f"x: images (N, C, H, W), got shape {tuple(x.shape)}")
    u = (2 * torch.rand(len(x), generator=generator, dtype=torch.float64) - 1) * size
    out = []
    for k in range(len(x)):
        angle = float(u[k]) if kind == "rotate" else 0.0
        shear = [float(u[k]), 0.0] if kind == "shear" else [0.0, 0.0]
        scale = 1.0 / size if kind == "zoom" else 1.0
        out.append(TF.affine(x[k], angle=angle, translate=[0, 0], scale=scale, shear=shear))
    return torch.stack(out)


def deformed_sets(x: torch.Tensor, seed: int) -> dict:
    """``{name: deformed copy of x}`` for every set of ``DEFORMATIONS``, drawn from ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    return {name: deform(x, kind, size, gen) for name, kind, size in DEFORMATIONS}
