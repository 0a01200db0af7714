"""A discriminator's pieces, written once for every adversarial method (POSE, ADD, APT, DMD2, PCM, ASD).

A diffusion-backbone discriminator reads a video re-noised to a level t it is told,
D(x0) = head(backbone.features((1 - t) x0 + t eps, t, c)), so what it can see depends on t: at a high
level the noise hides the difference between two videos. Papers give their levels for their
resolution. The same t hides much less of a large video than of a small one (SD3, Esser et al. 2024,
Sec. 5.3.2: the signal of m values is more redundant than that of n < m, so a level t_n at n values
matches the level t_m = a t_n / (1 + (a - 1) t_n), a = sqrt(m / n), at m). `Levels` applies that
shift from the reference the papers trained at, Wan2.1's 720p latent of 81 frames (21 x 90 x 160 x
16 = 4.8M values), to the model's own sample; on the built-in world (8 frames of 32 x 32 RGB,
24,576 values) a = 0.071, and the "highly diffused" t in [0.7, 0.98] of a 720p latent is t in
[0.14, 0.78] here (docs/pose.md has the measurement of which levels a head separates at).

GAN losses (per-sample logits (B, n), means over the batch and the logits):
    hinge (Miyato et al. 2018)   D: relu(1 - D(real)) + relu(1 + D(fake))   G: -D(fake)
    non-saturating (GAN, DMD2)   D: softplus(-D(real)) + softplus(D(fake))  G: softplus(-D(fake))
    RpGAN (R3GAN)                D: softplus(D(fake) - D(real))            G: softplus(D(real) - D(fake))

R1 without a second backward, by finite differences along a perturbation e (pose.py's ST-R1 is two
of these): `r1_normalised` = k ||D(x + e) - D(x)||^2 / ||e||^2 (an estimate of ||grad D||^2 on the
subspace e spans), `r1_apt` = ||D(x + e) - D(x)||^2 (APT's form, no division).

`paired_accuracy` is how a run reads whether a discriminator separates: the share of pairs (a real
and a fake video of the same condition, or ASD's n + 1 and n steps) that it orders right; 0.5 is
chance. The trainer logs it on a held-out batch (train/trainer.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from onestep import flow
from onestep.seeding import Draws
from onestep.types import Cond

REFERENCE_VALUES = 21 * 90 * 160 * 16  # Wan2.1's latent of an 81-frame 720p video: where the papers' levels were set


def resolution_shift(values: int, reference: int = REFERENCE_VALUES) -> float:
    """a = sqrt(values / reference): the shift that carries a level at `reference` values to `values`."""
    return math.sqrt(values / reference)


@dataclass(frozen=True)
class Levels:
    """t = shift(U[lo, hi], s) per sample; with `reference` the range is the papers' (at REFERENCE_VALUES)
    and is carried to the sample's own size by `resolution_shift`."""

    lo: float
    hi: float
    shift: float = 1.0
    reference: bool = True

    def of(self, u: Tensor, values: int) -> Tensor:
        """Levels of U[0, 1) draws u for a sample of `values` values."""
        t = flow.sample_t(u, kind="uniform", lo=self.lo, hi=self.hi, s=self.shift)
        return flow.shift(t, resolution_shift(values)) if self.reference else t

    def draw(self, x: Tensor, d: Draws) -> tuple[Tensor, Tensor]:
        """(t (B,), eps like x): a level per sample of x and the noise that re-noises it."""
        return self.of(d.rand(x.shape[0]).to(x.dtype), x[0].numel()), d.randn_like(x)


def read(backbone, head, taps: tuple[int, ...], x0: Tensor, cond: Cond, t: Tensor, eps: Tensor) -> Tensor:
    """D(x0): the backbone's features of x0 re-noised to t with eps at blocks `taps`, read by the head."""
    feats = backbone.features(flow.interpolate(x0, eps, t), t, cond, taps)
    return head(feats, cond, t, backbone.condition_image(cond))


def default_taps(depth: int, n: int = 3) -> tuple[int, ...]:
    """n blocks spread over the depth, the last block included."""
    return tuple(sorted({round((k + 1) * depth / n) - 1 for k in range(n)}))


# -- losses --------------------------------------------------------------------------------------


def hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g(fake: Tensor) -> Tensor:
    return -fake.mean()


def ns_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def ns_g(fake: Tensor) -> Tensor:
    return F.softplus(-fake).mean()


def rpgan_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(fake - real).mean()


def rpgan_g(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(real - fake).mean()


def r1_normalised(D, x: Tensor, d_x: Tensor, e: Tensor) -> Tensor:
    """k ||D(x + e) - D(x)||^2 / ||e||^2 per sample, (B,), for logits (B, n).

    e broadcasts against x (a (B, C, F, 1, 1) offset covers H * W values each); k counts e's nonzero
    entries and ||e||^2 is the energy of the broadcast perturbation, so for a linear D the expectation
    is the squared norm of D's gradient projected on the subspace e spans.
    """
    spread = x[0].numel() / e[0].numel()
    k = (e != 0).flatten(1).sum(-1)
    energy = (e.flatten(1).pow(2).sum(-1) * spread).clamp_min(torch.finfo(e.dtype).tiny)  # k = 0: 0, not 0/0
    return (D(x + e) - d_x).pow(2).sum(-1) * k / energy


def r1_apt(D, x: Tensor, d_x: Tensor, e: Tensor) -> Tensor:
    """||D(x + e) - D(x)||^2 per sample, (B,): APT's approximated R1, no division."""
    return (D(x + e) - d_x).pow(2).sum(-1)


# -- reading a discriminator ----------------------------------------------------------------------


def paired_accuracy(real: Tensor, fake: Tensor) -> float:
    """The share of rows whose real logit (mean over a row's logits) is above its fake one; 0.5 is chance."""
    real, fake = real.reshape(real.shape[0], -1).mean(-1), fake.reshape(fake.shape[0], -1).mean(-1)
    return float((real > fake).float().mean())
