"""ODE regression: the generator regresses the teacher's probability-flow ODE solutions (the student
initialisation of CausVid, Yin et al. 2025; Self-Forcing starts from it too).

Pairs (eps_i, c_i) -> x0_i = ODE_teacher(eps_i, c_i), integrated by the guided teacher in
`teacher_steps` Euler steps on the teacher's shifted grid, are made once per run (`prepare`) and kept
in the run directory, one safetensors file per chunk, each written atomically: a killed run keeps
its finished chunks and makes only the missing ones, and a manifest refuses chunks made with other
ODE settings or another seed (the teacher is the run's own). The loss on a batch of pairs, one step
from noise:

    L = || G_x0(eps_i, t = 1, c_i) - x0_i ||^2,    G_x0(x, t, c) = x - t G(x, t, c)

The ODE maps each noise to one video, so the target is a function of the input rather than the blurry
conditional mean a regression on data gives; this gives the one-step generator the teacher's
noise-to-motion map before distribution matching sharpens it. With `renoise_t`, half of each batch is
also regressed from its target re-noised to one of those levels with fresh noise (the inputs of the
re-noising few-step sampler), a term added to L.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from onestep import flow, samplers
from onestep.errors import UserError
from onestep.methods.pairs import FOLDER, draw_pairs, one_step_loss, saved_pairs
from onestep.methods.vsd import batch_cond
from onestep.models.lora import adapters_disabled
from onestep.train.seeding import step_generator
from onestep.types import Cond, LossOutput, Nets, Update

PAIR_STEPS = 1 << 40  # pair chunks read the batches of steps PAIR_STEPS + k, never a training step's
PAIR_STREAM = 11  # the noise of chunk k: step_generator(seed, k, stream=PAIR_STREAM)
PAIR_FIELDS = ("chunk_batches", "teacher_steps", "guidance", "shift")  # what a chunk depends on, besides the seed


@dataclass
class OdeRegressionConfig:
    pairs: int = 1024  # ODE solutions made once per run
    chunk_batches: int = 8  # batches of the run's batch size per chunk file
    teacher_steps: int = 25  # guided Euler steps per solution (2 x NFE with CFG)
    guidance: float = 3.0
    shift: float = 3.0  # the teacher's time grid (its own sampling shift)
    renoise_t: tuple[float, ...] = ()  # also regress x0_i from x0_i re-noised to these t (the few-step sampler's inputs)

    def __post_init__(self):
        if self.pairs < 1 or self.chunk_batches < 1 or self.teacher_steps < 1:
            raise UserError(f"ODE regression needs pairs, chunk_batches and teacher_steps of at least 1: got {self.pairs}, {self.chunk_batches}, {self.teacher_steps}")


class OdeRegression:
    name = "ode"

    def __init__(self, config: OdeRegressionConfig | None = None):
        self.cfg = config or OdeRegressionConfig()
        self.data: dict[str, Tensor] | None = None

    # -- the trainer's interface -----------------------------------------------------------------

    def setup(self, nets: Nets) -> None:
        pass

    def trainable(self, nets: Nets) -> dict[str, list]:
        return {"generator": list(nets.generator.parameters())}

    def updates(self, step: int) -> list[Update]:
        return [Update("generator", self.generator_loss)]

    def prepare(self, nets: Nets, workdir: Path, batches, seed: int, progress: bool = True) -> None:
        """Make the missing pair chunks in `workdir / "ode_pairs"`, then take the run's one loaded copy.

        Chunk k is made from the batches of steps PAIR_STEPS + k * chunk_batches and noise seeded by
        (seed, k), so a resumed run remakes a missing chunk exactly.
        """
        from rich.progress import Progress

        folder = Path(workdir) / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        made_with = {name: getattr(self.cfg, name) for name in PAIR_FIELDS} | {"seed": seed}
        manifest = folder / "manifest.json"
        if manifest.is_file() and json.loads(manifest.read_text()) != made_with:
            raise UserError(f"the ODE pairs in {folder} were made with {manifest.read_text().strip()}, not {json.dumps(made_with)}: delete that folder or use another --out")
        manifest.write_text(json.dumps(made_with))
        made, k = 0, 0
        stream, at = None, None  # one batch stream across consecutive missing chunks (a worker start each is slow)
        with Progress(disable=not progress) as bar:
            task = bar.add_task("ODE pairs", total=self.cfg.pairs)
            while made < self.cfg.pairs:
                path = folder / f"chunk_{k:05d}.safetensors"
                start = PAIR_STEPS + k * self.cfg.chunk_batches
                if not path.is_file():
                    if at != start:
                        stream = batches(start)
                    self.make_chunk(nets, path, stream, seed, k)
                    at = start + self.cfg.chunk_batches
                with safe_open(str(path), "pt") as chunk:
                    made += chunk.get_slice("noise").get_shape()[0]
                bar.update(task, completed=min(made, self.cfg.pairs))
                k += 1
        self.data = {name: v[: self.cfg.pairs] for name, v in saved_pairs(workdir).items()}  # views: the anchored phases share it

    @torch.no_grad()
    def make_chunk(self, nets: Nets, path: Path, batches, seed: int, k: int) -> None:
        c, parts = self.cfg, []
        g = step_generator(seed, k, stream=PAIR_STREAM)
        for _ in range(c.chunk_batches):
            batch = next(batches)
            cond = batch_cond(batch)
            noise = torch.randn(batch.video.shape, generator=g)
            with adapters_disabled(nets.teacher):
                x0 = samplers.euler(nets.teacher, noise, cond, steps=c.teacher_steps, shift=c.shift, guidance=c.guidance, uncond=nets.uncond(cond))
            parts.append({"noise": noise, "x0": x0, "text": cond.text, "text_mask": cond.text_mask} | ({} if cond.image is None else {"image": cond.image}))
        chunk = {name: torch.cat([p[name] for p in parts]).contiguous() for name in parts[0]}
        tmp = path.with_name(path.name + ".partial")
        save_file(chunk, str(tmp))
        os.replace(tmp, path)

    # -- the loss --------------------------------------------------------------------------------

    def generator_loss(self, nets: Nets, batch, g: torch.Generator) -> LossOutput:
        if self.data is None:
            raise RuntimeError("ODE regression has no pairs: the trainer calls prepare() when the phase starts")
        noise, x0, cond = draw_pairs(self.data, batch.video.shape[0], g)
        loss = one_step_loss(nets, noise, x0, cond)
        logs = {"ode/mse": loss.item()}
        if self.cfg.renoise_t:
            half = slice(0, max(len(x0) // 2, 1))
            renoised = self.renoised_loss(nets, x0[half], cond.index(half), g)
            loss = loss + renoised
            logs["ode/renoised_mse"] = renoised.item()
        return LossOutput(loss, logs)

    def renoised_loss(self, nets: Nets, x0: Tensor, cond: Cond, g: torch.Generator) -> Tensor:
        """|| G_x0(x_t, t, c_i) - x0_i ||^2, x_t = (1 - t) x0_i + t eps' with fresh eps', t drawn from `renoise_t`.

        These are the inputs a few-step student sees after its first step (x0 re-noised, DMD style), so
        the regression keeps the student's later steps pointed at the teacher's solutions too.
        """
        levels = torch.tensor(self.cfg.renoise_t, dtype=x0.dtype)
        t = levels[torch.randint(len(levels), (x0.shape[0],), generator=g)]
        x_t = flow.interpolate(x0, torch.randn(x0.shape, generator=g), t)
        return F.mse_loss(flow.x0_from_v(x_t, nets.generator(x_t, t, cond), t).float(), x0.float())
