"""The run's ODE pairs (eps_i, c_i) -> x0_i as a regression target, shared by the methods that use them.

`ode_regression` makes the pairs and regresses them as a phase of its own. VSD and POSE can keep
regressing them with `ode_weight` > 0: DMD's regression loss (Yin et al. 2024, Eq. 8: L_G = L_KL +
lambda_reg L_reg, there with LPIPS and lambda_reg = 0.25; here the same MSE as the ODE phase), an
anchor that holds the one-step generator on the teacher's noise-to-video map while distribution
matching or the adversarial game moves it. Not in the POSE paper.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor

from onestep import flow
from onestep.errors import UserError
from onestep.types import Cond, Nets

FOLDER = "ode_pairs"  # RUN/ode_pairs


_loaded: dict[tuple, dict[str, Tensor]] = {}  # the last folder's pairs, shared by the phases that regress them


def saved_pairs(workdir: Path) -> dict[str, Tensor]:
    """Every pair an earlier `ode` phase of this run made, for a later phase's `ode_weight` term.

    Phases I and II of one run get the same tensors (read-only), loaded once while the chunk files
    are unchanged, rather than a copy each.
    """
    folder = Path(workdir) / FOLDER
    chunks = sorted(folder.glob("chunk_*.safetensors"))
    if not chunks:
        raise UserError(f"ode_weight > 0 regresses the ODE pairs of an earlier ode phase and {folder} has none: give the run an ode phase of at least 1 step before this one, or set ode_weight=0")
    key = tuple((str(p.resolve()), p.stat().st_mtime_ns) for p in chunks)
    if key not in _loaded:
        parts = [load_file(str(p)) for p in chunks]
        _loaded.clear()
        _loaded[key] = {name: torch.cat([p[name] for p in parts]) for name in parts[0]}
    return _loaded[key]


def draw_pairs(data: dict[str, Tensor], n: int, g: torch.Generator) -> tuple[Tensor, Tensor, Cond]:
    """n pairs drawn uniformly with replacement: (noise, x0, cond)."""
    idx = torch.randint(len(data["noise"]), (n,), generator=g)
    d = {name: v[idx] for name, v in data.items()}
    return d["noise"], d["x0"], Cond(d["text"], d["text_mask"], d.get("image"))


def one_step_loss(nets: Nets, noise: Tensor, x0: Tensor, cond: Cond) -> Tensor:
    """|| G_x0(eps_i, t = 1, c_i) - x0_i ||^2, G_x0(x, t, c) = x - t G(x, t, c)."""
    t = torch.ones(noise.shape[0])
    return F.mse_loss(flow.x0_from_v(noise, nets.generator(noise, t, cond), t).float(), x0.float())


def with_anchor(loss: Tensor, logs: dict, weight: float, nets: Nets, data: dict[str, Tensor] | None, n: int, g: torch.Generator) -> tuple[Tensor, dict]:
    """loss + weight * the one-step regression on n pairs drawn from `data`: the `ode_weight` term of VSD and POSE."""
    if data is None:
        raise RuntimeError("ode_weight > 0 needs the run's ODE pairs: the trainer calls prepare() when the phase starts")
    anchor = one_step_loss(nets, *draw_pairs(data, n, g))
    return loss + weight * anchor, logs | {"ode/anchor_mse": anchor.item()}
