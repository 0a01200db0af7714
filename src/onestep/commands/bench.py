"""`onestep bench`: latency of a model against the teacher at 100, 4 and 1 NFE, in one run.

The teacher's guided rows are timed both ways CFG is run: as two forwards of batch B per Euler step
(`cfg: "two forwards"`, what Wan's and diffusers' pipelines do, so 100 NFE are 100 network
evaluations, the POSE paper's count and its 890 s) and as one forward of batch 2B (`cfg: "batched"`).
`speedup` is against the first, measured once more with the two sides' timed runs interleaved
(`latency.interleaved_ratio`; `speedup_rows` is the plain ratio of the two rows), and
`speedup_cfg_batched` is against the second. A block-causal student also streams 4x its training
length at batch 1: time to first frame and frames per second (eval/stream.py). On a GPU at 14B a
forward is compute-bound and the two cost the same; on this CPU a batch-2 forward of the tiny model
costs far less than two batch-1 forwards, so the batched teacher is the stricter reference.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import torch

from onestep import paths
from onestep.commands.sample import sampler_for
from onestep.errors import UserError
from onestep.eval.latency import interleaved_ratio, measure, timed_runner
from onestep.models.io import load_model
from onestep.models.text import TextEncoder, reads

STREAM_LENGTH = 4  # a causal student's stream: this many times the training length


def run(
    *,
    model_dir: Path,
    teacher_dir: Path | None,
    batches: tuple[int, ...] = (1, 8),
    repeats: int = 3,
    min_seconds: float = 2.0,
    teacher_nfes: tuple[int, ...] = (100, 4, 1),
    say=print,
) -> dict:
    from onestep.models.kinds import kind_of

    for d in (model_dir, teacher_dir or paths.TEACHER):
        kind = kind_of(d)
        if kind.data != "world":
            raise UserError(
                f"{d} is a {kind.title} model: `onestep bench` times built-in DiT models on the embedded world's "
                "clips; time a Wan folder with benchmarks/wan.py"
            )
    model, config = load_model(model_dir)
    teacher, tconfig = load_model(teacher_dir or paths.TEACHER)
    mc = model.config
    shape = (mc.channels, mc.frames, mc.height, mc.width)
    encoder, tencoder = encoders(config, tconfig)
    torch.manual_seed(0)
    rows = []
    for batch in batches:
        spec = sampler_for(config, None, None, None)
        rows.append(
            {
                "model": str(model_dir),
                "role": config.get("role", "model"),
                **asdict(
                    measure(model, encoder, spec, batch=batch, shape=shape, repeats=repeats, min_seconds=min_seconds)
                ),
            }
        )
        say(f"model  NFE {spec.nfe:>3} batch {batch}: {rows[-1]['denoise_s'] * 1e3:.1f} ms/video")
        for nfe in teacher_nfes:
            guided = sampler_for(tconfig, nfe, None, None)
            specs = [(guided, "batched")]
            if guided.guidance != 1.0 and nfe == max(teacher_nfes):
                specs.insert(0, (replace(guided, cfg_batched=False), "two forwards"))
            for tspec, cfg in specs:
                timing = asdict(
                    measure(
                        teacher, tencoder, tspec, batch=batch, shape=shape, repeats=repeats, min_seconds=min_seconds
                    )
                )
                rows.append(
                    {
                        "model": str(teacher_dir or paths.TEACHER),
                        "role": "teacher",
                        "cfg": cfg if tspec.guidance != 1.0 else "none",
                        **timing,
                    }
                )
                say(
                    f"teacher NFE {tspec.nfe:>3} batch {batch} (CFG {rows[-1]['cfg']}): "
                    f"{rows[-1]['denoise_s'] * 1e3:.1f} ms/video"
                )
    # the speedup of the model over the teacher's 100-NFE rows, batch 1, same run
    own = next(r for r in rows if r["role"] != "teacher" and r["batch"] == batches[0])

    def reference(cfg: str) -> dict:
        top = [r for r in rows if r["role"] == "teacher" and r["nfe"] == max(teacher_nfes) and r["batch"] == batches[0]]
        return next((r for r in top if r["cfg"] == cfg), top[0])

    ref, ref_batched = reference("two forwards"), reference("batched")
    # the headline ratio again with the two rows' timed runs interleaved (robust to the machine's drift)
    paired = interleaved(
        model,
        config,
        teacher,
        tconfig,
        (encoder, tencoder),
        shape,
        teacher_nfe=max(teacher_nfes),
        batch=batches[0],
        rounds=max(repeats, 3),
        fast_seconds=min_seconds / 4,
    )
    say(f"interleaved: speedup {paired['speedup']:.1f}x, end to end {paired['speedup_end_to_end']:.1f}x")
    streaming = {}
    if config.get("sampling", {}).get("kind") == "causal":  # a block-causal student: its stream, 4x the training length
        from onestep.eval import stream

        spec = sampler_for(config, None, None, None)
        streaming = {
            "stream": {
                "label": spec.label,
                "window": stream.default_window(model),
                "sink": 0,
                **stream.latency(
                    model,
                    encoder,
                    spec,
                    STREAM_LENGTH * mc.frames,
                    window=stream.default_window(model),
                    sink=0,
                    repeats=repeats,
                ),
            }
        }
        say(
            f"stream ({streaming['stream']['frames']} frames, {spec.label}): first frame after "
            f"{streaming['stream']['time_to_first_frame_s'] * 1e3:.0f} ms, {streaming['stream']['frames_per_s']:.1f} "
            "frames/s"
        )
    return {
        **streaming,
        "rows": rows,
        "speedup": paired["speedup"],
        "speedup_end_to_end": paired["speedup_end_to_end"],
        "speedup_rows": ref["denoise_s"] / own["denoise_s"],
        "speedup_cfg_batched": ref_batched["denoise_s"] / own["denoise_s"],
        "speedup_end_to_end_cfg_batched": ref_batched["end_to_end_s"] / own["end_to_end_s"],
        "reference": {
            "teacher_nfe": ref["nfe"],
            "teacher_cfg": ref["cfg"],
            "model_nfe": own["nfe"],
            "batch": batches[0],
        },
    }


def encoders(config: dict, tconfig: dict) -> tuple[TextEncoder, TextEncoder]:
    """The model's and the teacher's own text encoders (one object when they read the same)."""
    encoder = TextEncoder.of(config)
    return encoder, encoder if reads(config) == reads(tconfig) else TextEncoder.of(tconfig)


def interleaved(
    model,
    config: dict,
    teacher,
    tconfig: dict,
    encoders: tuple,
    shape: tuple,
    *,
    teacher_nfe: int = 100,
    batch: int = 1,
    rounds: int = 3,
    fast_seconds: float = 0.5,
) -> dict:
    """The model at its own NFE against the teacher at `teacher_nfe` (CFG as two forwards of batch B,
    Wan's pipeline), the two sides' timed runs interleaved (`latency.interleaved_ratio`); `encoders`:
    the model's and the teacher's text encoders."""
    slow_spec = replace(sampler_for(tconfig, teacher_nfe, None, None), cfg_batched=False)
    return interleaved_ratio(
        timed_runner(teacher, encoders[1], slow_spec, batch=batch, shape=shape),
        timed_runner(model, encoders[0], sampler_for(config, None, None, None), batch=batch, shape=shape),
        rounds=rounds,
        fast_seconds=fast_seconds,
    )


def speedup(model_dir: Path, teacher_dir: Path | None = None, *, rounds: int = 3) -> dict:
    """`interleaved` for two model directories, the teacher at 100 NFE: about 10 s (`onestep demo`)."""
    model, config = load_model(model_dir)
    teacher, tconfig = load_model(teacher_dir or paths.TEACHER)
    mc = model.config
    torch.manual_seed(0)
    return interleaved(
        model,
        config,
        teacher,
        tconfig,
        encoders(config, tconfig),
        (mc.channels, mc.frames, mc.height, mc.width),
        rounds=rounds,
    )
