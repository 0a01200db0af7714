"""ODE regression: the generator regresses the teacher's probability-flow ODE solutions (the student
initialisation of CausVid, Yin et al. 2025; Self-Forcing starts from it too).

The pairs (eps_i, c_i) -> x0_i = ODE_teacher(eps_i, c_i) are data, made once by data/pairs.py
(`onestep pairs`, or by `onestep distill` into the run directory) and read from `batch.pairs`. The
loss on a batch of pairs, one step from noise:

    L = || G_x0(eps_i, t = 1, c_i) - x0_i ||^2,    G_x0(x, t, c) = x - t G(x, t, c)

The ODE maps each noise to one video, so the target is a function of the input rather than the blurry
conditional mean a regression on data gives; this gives the one-step generator the teacher's
noise-to-motion map before distribution matching sharpens it. With `renoise_t`, every other row
of the global batch (the even rows, whichever micro-batch holds them) is also regressed from its target re-noised to one
of those levels with fresh noise (the inputs of the
re-noising few-step sampler), a term added to L.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from onestep import flow
from onestep.methods.pairs import need, one_step_loss
from onestep.methods.single import StudentOnly
from onestep.seeding import Draws
from onestep.types import Batch, Cond, LossOutput, Roles


@dataclass
class OdeRegressionConfig:
    renoise_t: tuple[
        float, ...
    ] = ()  # also regress x0_i from x0_i re-noised to these t (the few-step sampler's inputs)


class OdeRegression(StudentOnly):
    name = "ode"
    needs_pairs = True

    def __init__(self, config: OdeRegressionConfig | None = None):
        self.cfg = config or OdeRegressionConfig()

    # -- the loss --------------------------------------------------------------------------------

    def student_loss(self, batch: Batch, roles: Roles, d: Draws) -> LossOutput:
        noise, x0, cond = need(batch.pairs).draw(batch.video.shape[0], d)
        loss = one_step_loss(roles, noise, x0, cond)
        logs = {"ode/mse": loss.item()}
        if self.cfg.renoise_t:
            renoised = self.renoised_loss(roles, x0, cond, d)
            loss = loss + renoised
            logs["ode/renoised_mse"] = renoised.item()
        return LossOutput(loss, logs)

    def renoised_loss(self, roles: Roles, x0: Tensor, cond: Cond, d: Draws) -> Tensor:
        """|| G_x0(x_t, t, c_i) - x0_i ||^2 over the even rows i of the global batch, x_t = (1 - t) x0_i + t eps'
        with fresh eps', t drawn from `renoise_t`.

        These are the inputs a few-step student sees after its first step (x0 re-noised, DMD style), so
        the regression keeps the student's later steps pointed at the teacher's solutions too. Every row
        draws (its generator advances as in any split); the student runs on the even rows, and their
        summed error is divided by half the micro-batch, so micro-batches of any size average to the mean
        over the global batch's even rows. A micro-batch without an even row still runs the student, on
        its first row with weight 0: under FSDP every process must make the same collectives (a
        forward's all-gathers, a backward's reduce-scatters) whatever its rows hold.
        """
        levels = torch.tensor(self.cfg.renoise_t, dtype=x0.dtype, device=x0.device)
        t, eps = levels[d.randint(len(levels), x0.shape[0])], d.randn_like(x0)
        n = x0.shape[0]
        even = [k for k in range(n) if (d.first_row + k) % 2 == 0]
        rows, weight = (even, 1.0) if even else ([0], 0.0)
        x0, t, cond = x0[rows], t[rows], cond.index(rows)
        x_t = flow.interpolate(x0, eps[rows], t)
        per_row = (flow.x0_from_v(x_t, roles.student(x_t, t, cond), t).float() - x0.float()).pow(2).flatten(1).mean(1)
        return weight * per_row.sum() / (n / 2)
