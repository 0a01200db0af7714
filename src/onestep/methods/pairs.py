"""The run's ODE pairs (eps_i, c_i) -> x0_i as a regression target, shared by the methods that use them.

The pairs are data (data/pairs.py makes them once, `onestep pairs`); a method reads them from
`batch.pairs`. `ode_regression` regresses them as a phase of its own. VSD and POSE can keep
regressing them with `ode_weight` > 0: DMD's regression loss (Yin et al. 2024, Eq. 8: L_G = L_KL +
lambda_reg L_reg, there with LPIPS and lambda_reg = 0.25; here the same MSE as the ODE phase), an
anchor that holds the one-step generator on the teacher's noise-to-video map while distribution
matching or the adversarial game moves it. Not in the POSE paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from onestep import flow
from onestep.seeding import Draws
from onestep.types import Cond, Pairs, Roles


def one_step_loss(roles: Roles, noise: Tensor, x0: Tensor, cond: Cond) -> Tensor:
    """|| G_x0(eps_i, t = 1, c_i) - x0_i ||^2, G_x0(x, t, c) = x - t G(x, t, c)."""
    t = torch.ones(noise.shape[0], device=noise.device, dtype=noise.dtype)
    return F.mse_loss(flow.x0_from_v(noise, roles.student(noise, t, cond), t).float(), x0.float())


def need(pairs: Pairs | None) -> Pairs:
    if pairs is None:
        raise RuntimeError(
            "this method regresses the run's ODE pairs and the batch has none: the data config names them (data.pairs)"
        )
    return pairs


def with_anchor(
    loss: Tensor, logs: dict, weight: float, roles: Roles, pairs: Pairs | None, n: int, d: Draws
) -> tuple[Tensor, dict]:
    """loss + weight * the one-step regression on n pairs drawn from `pairs`: the `ode_weight` term of VSD and POSE."""
    anchor = one_step_loss(roles, *need(pairs).draw(n, d))
    return loss + weight * anchor, logs | {"ode/anchor_mse": anchor.item()}
