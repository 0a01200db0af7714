"""Latency, throughput and memory of sampling, measured as the POSE paper does: denoising latency
(the network evaluations) apart from text encoding and decoding, and end to end beside it.

Every figure is the median of at least `repeats` timed runs after `warmup` untimed ones and of as
many more as fill `min_seconds` of denoising (timeit's autorange, so the fast rows get many runs).
A 20 ms forward still drifts by up to a third between rows on a shared machine (docs/pose.md), so a
ratio of two rows is measured with their runs interleaved (`interleaved_ratio`). Peak memory is the
largest resident-set increase seen by a 2 ms sampler thread during the timed runs (CPU), or
torch.cuda.max_memory_allocated on a GPU.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass

import psutil
import torch

from onestep import causal, samplers
from onestep.eval.sample import SamplerSpec
from onestep.media import tensor_to_frames
from onestep.models.text import TextEncoder
from onestep.types import Cond, Denoiser


class PeakRSS:
    """Largest RSS increase over the baseline while active (sampled every 2 ms)."""

    def __enter__(self):
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def _poll(self):
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()

    @property
    def increase_mb(self) -> float:
        return (self.peak - self.base) / 2**20


@dataclass
class Timing:
    nfe: int
    batch: int
    denoise_s: float  # per video
    end_to_end_s: float  # per video: text encoding + denoising + decoding to frames
    videos_per_s: float
    peak_mb: float


def denoise(model: Denoiser, spec: SamplerSpec, noise: torch.Tensor, cond: Cond) -> torch.Tensor:
    if spec.kind == "euler":
        return samplers.euler(
            model, noise, cond, steps=spec.steps, shift=spec.shift, guidance=spec.guidance, cfg_batched=spec.cfg_batched
        )
    if spec.kind == "causal":  # block by block with its KV cache, the first block's steps included
        times = causal.block_times(
            noise.shape[2] // causal.block_frames(model), spec.steps, spec.shift, spec.first_block_steps or None
        )
        return causal.generate(model, noise, cond, times)
    return samplers.renoise(model, noise, cond, times=samplers.student_times(spec.steps, spec.shift))


def timed_runner(model: Denoiser, encoder: TextEncoder, spec: SamplerSpec, *, batch: int, shape: tuple):
    """run(i) -> (denoising seconds, end-to-end seconds) of one batch, prompts made distinct by i."""
    prompts = [f"a red circle moves left {i}" for i in range(batch)]  # distinct, so the cache never answers
    image = torch.zeros(batch, shape[0], shape[2], shape[3])
    noise = torch.randn(batch, *shape)

    @torch.no_grad()
    def run(i: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        encoder._cache.clear()
        text, mask = encoder([f"{p} {i}" for p in prompts])
        cond = Cond(text, mask, image).with_negative(*encoder.null(1))
        t1 = time.perf_counter()
        x0 = denoise(model, spec, noise, cond)
        t2 = time.perf_counter()
        _ = [tensor_to_frames(v) for v in x0]
        t3 = time.perf_counter()
        return t2 - t1, t3 - t0

    return run


def measure(
    model: Denoiser,
    encoder: TextEncoder,
    spec: SamplerSpec,
    *,
    batch: int,
    shape: tuple,
    warmup: int = 1,
    repeats: int = 3,
    min_seconds: float = 2.0,
    max_runs: int = 1000,
) -> Timing:
    run = timed_runner(model, encoder, spec, batch=batch, shape=shape)
    for i in range(warmup):
        run(-1 - i)
    with PeakRSS() as mem:
        times: list[tuple[float, float]] = []
        while len(times) < repeats or (sum(t[0] for t in times) < min_seconds and len(times) < max_runs):
            times.append(run(len(times)))
    den = statistics.median(t[0] for t in times)
    e2e = statistics.median(t[1] for t in times)
    return Timing(spec.nfe, batch, den / batch, e2e / batch, batch / den, mem.increase_mb)


def interleaved_ratio(slow, fast, *, rounds: int = 5, fast_seconds: float = 0.5) -> dict[str, float]:
    """Denoising and end-to-end ratio slow / fast of two `timed_runner`s, their timed runs interleaved:
    each round one slow run, then fast runs for `fast_seconds` (one at least); medians over all
    rounds. Drift of the machine's speed over minutes then falls on both sides of the ratio alike."""
    slow(-1), fast(-1)
    slow_times, fast_times = [], []
    for r in range(rounds):
        slow_times.append(slow(r))
        start = len(fast_times)
        while len(fast_times) == start or sum(t[0] for t in fast_times[start:]) < fast_seconds:
            fast_times.append(fast(len(fast_times)))
    med = lambda times, k: statistics.median(t[k] for t in times)  # noqa: E731
    return {
        "speedup": med(slow_times, 0) / med(fast_times, 0),
        "speedup_end_to_end": med(slow_times, 1) / med(fast_times, 1),
    }
