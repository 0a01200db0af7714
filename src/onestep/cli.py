"""The `onestep` command line: parses and dispatches, no logic (STYLE.md)."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import typer

from onestep.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Distill video diffusion models into one-step generators.",
)


DEBUG = {"on": False}
EXPECTED_OS_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EDQUOT: "the disk quota is used up",
}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="show the traceback of an error instead of its one line"),
) -> None:
    """onestep: distill multi-step flow-matching video diffusion models into one-step generators."""
    DEBUG["on"] = debug


@app.command()
def teacher(
    out: Path = typer.Option(..., help="run directory (resumes if it holds checkpoints)"),
    preset: str = typer.Option("teacher-small", help="teacher-small | teacher-tiny"),
    set_: list[str] = typer.Option([], "--set", help="config override key=value, e.g. --set steps=1000"),
    max_steps: int | None = typer.Option(None, help="stop after this many more steps (resume later)"),
    probe: bool = typer.Option(True, help="log the motion probe on held-out clips"),
):
    """Train the teacher on the embedded world (flow matching, CFG dropout, EMA)."""
    from onestep.commands.teacher import run

    if max_steps is not None and max_steps < 1:
        raise UserError(f"--max-steps {max_steps}: use 1 or more steps (leave it out to train to the end)")
    run(out=out, preset=preset, overrides=set_, max_steps=max_steps, probe=probe)


@app.command()
def sample(
    model: Path = typer.Option(
        ..., help="model directory: a onestep model, or a Wan diffusers folder (a teacher or an export)"
    ),
    prompt: str = typer.Option(..., help="what the video shows"),
    image: Path | None = typer.Option(None, help="first frame for image-to-video (resized and centre-cropped)"),
    nfe: int | None = typer.Option(
        None, help="network evaluations: a CFG teacher takes nfe/2 steps, a student nfe steps"
    ),
    steps: int | None = typer.Option(None, help="sampling steps (instead of --nfe)"),
    cfg: float | None = typer.Option(None, help="classifier-free guidance scale for a teacher (1 = none)"),
    seed: int = typer.Option(0, help="noise seed"),
    frames: int | None = typer.Option(
        None,
        help="Wan: frames (4k + 1; default the export's size, else 81); --stream: frames to stream (default 4x the "
        "training length)",
    ),
    size: str | None = typer.Option(None, help="Wan only: HEIGHTxWIDTH (default the export's size, else 480x832)"),
    first_block_steps: int | None = typer.Option(
        None,
        help="block-causal students: steps for the first block (First Frame Enhancement; 0 = none; default the "
        "model's)",
    ),
    stream: bool = typer.Option(
        False,
        "--stream",
        help="block-causal students: write frames as blocks finish, past the training length (--frames)",
    ),
    window: int | None = typer.Option(
        None, help="--stream: latent frames the KV cache keeps (default: the training context)"
    ),
    sink: int = typer.Option(0, help="--stream: of those, the first frames always kept (attention sinks)"),
    out: Path = typer.Option(..., help="output .mp4 or .gif"),
):
    """Generate one video."""
    from onestep.commands.sample import run

    if stream:
        from rich.progress import Progress

        from onestep.commands.stream import run as run_stream

        with Progress(transient=True) as bar:
            task = bar.add_task("streaming", total=frames)
            run_stream(
                model_dir=model,
                prompt=prompt,
                image=image,
                nfe=nfe,
                steps=steps,
                seed=seed,
                out=out,
                frames=frames,
                first_block_steps=first_block_steps,
                window=window,
                sink=sink,
                say=bar.console.print,
                on_block=lambda b, written: bar.update(task, completed=written),
            )
        return
    if window is not None or sink:
        raise typer.BadParameter("--window and --sink set the rolling KV cache of --stream: add --stream")
    run(
        model_dir=model,
        prompt=prompt,
        image=image,
        nfe=nfe,
        steps=steps,
        cfg=cfg,
        seed=seed,
        out=out,
        frames=frames,
        size=size,
        say=typer.echo,
        first_block_steps=first_block_steps,
    )


@app.command()
def featnet(
    out: Path = typer.Option(Path("assets/featnet"), help="where to write the feature network"),
    steps: int = typer.Option(1500, help="training steps"),
    seed: int = typer.Option(0, help="seed"),
):
    """Train the feature network of the FD/KID distances on ground-truth world clips."""
    from onestep.commands.featnet import run

    run(out=out, steps=steps, seed=seed)


@app.command("eval")
def eval_(
    model: Path = typer.Option(..., help="model directory"),
    nfe: int | None = typer.Option(None, help="network evaluations (default: the model's own sampling)"),
    track: str = typer.Option(
        "all", help="shapes (image-to-video) | t2v (the shapes clips from the prompt alone) | photocam | all"
    ),
    n: int = typer.Option(256, help="held-out clips per track"),
    photos: Path | None = typer.Option(
        None,
        help="photos for the photocam track: a folder of your own, or 'external' (photos other packages ship, never "
        "trained on)",
    ),
    prompts: str = typer.Option(
        "template",
        help="template (the training grammar's phrasings) | paraphrase (held-out phrasings of the same facts)",
    ),
    conditions: Path | None = typer.Option(
        None, help="JSONL of your own {prompt, image}: metrics that need no ground truth"
    ),
    seed: int = typer.Option(0, help="noise seed (paired across models)"),
    featnet: Path | None = typer.Option(None, help="feature network for FD/KID (default assets/featnet)"),
    json_: bool = typer.Option(False, "--json", help="print metrics.json"),
    fresh: bool = typer.Option(
        False, "--fresh", help="evaluate even where the model ships this evaluation (MODEL/evals/)"
    ),
    first_block_steps: int | None = typer.Option(
        None,
        help="block-causal students: steps for the first block (FFE: --nfe 1 --first-block-steps 4 is the 1* row; 0 "
        "= none)",
    ),
    stream: int | None = typer.Option(
        None,
        help="block-causal students: stream this many times the training length and score each segment (stream.json)",
    ),
    window: int | None = typer.Option(
        None, help="--stream: latent frames the KV cache keeps (default: the training context)"
    ),
    sink: int = typer.Option(0, help="--stream: of those, the first frames always kept (attention sinks)"),
    out: Path = typer.Option(..., help="output directory for metrics.json and videos"),
):
    """Evaluate a model: ground-truth panel, VBench-style proxies, FD/KID, intervals. An evaluation
    shipped with the model (the bundled teacher's) is used when its weights, settings and code match."""
    import json as _json

    from rich.progress import Progress

    from onestep.commands.eval import run
    from onestep.commands.report import print_metrics, print_stream
    from onestep.eval.suite import TRACKS

    tracks = list(TRACKS) if track == "all" else [track]
    with Progress(transient=True, disable=json_) as bar:
        task = bar.add_task("generating", total=n * len(tracks) if conditions is None else None)
        metrics = run(
            model_dir=model,
            nfe=nfe,
            tracks=tracks,
            n=n,
            photos=photos,
            conditions=conditions,
            out=out,
            seed=seed,
            featnet=featnet,
            progress=lambda k: bar.advance(task, k),
            prompts=prompts,
            fresh=fresh,
            say=None if json_ else bar.console.print,
            first_block_steps=first_block_steps,
            stream=stream,
            window=window,
            sink=sink,
        )
    if json_:
        typer.echo(_json.dumps(metrics, indent=2))
    elif stream is not None:
        print_stream(metrics)
    else:
        print_metrics(metrics)


@app.command()
def bench(
    model: Path = typer.Option(..., help="model directory (a student, or any model)"),
    teacher: Path | None = typer.Option(None, help="teacher directory (default assets/teacher)"),
    repeats: int = typer.Option(3, help="timed runs per row at least (median reported)"),
    min_seconds: float = typer.Option(2.0, help="and more runs until this much denoising time is measured per row"),
    json_: bool = typer.Option(False, "--json", help="print the result as JSON"),
):
    """Latency and throughput of a model against the teacher at 100, 4 and 1 NFE, in one run."""
    import json as _json

    from rich.console import Console
    from rich.table import Table

    from onestep.commands.bench import run

    if repeats < 1:
        raise UserError(f"--repeats {repeats}: use 1 or more timed runs per row")
    result = run(
        model_dir=model,
        teacher_dir=teacher,
        repeats=repeats,
        min_seconds=min_seconds,
        say=(lambda _: None) if json_ else typer.echo,
    )
    if json_:
        typer.echo(_json.dumps(result, indent=2))
        return
    table = Table(
        title=f"denoising speedup {result['speedup']:.1f}x, end to end {result['speedup_end_to_end']:.1f}x "
        f"(teacher CFG as two forwards); against the batched-CFG teacher {result['speedup_cfg_batched']:.1f}x"
    )
    for col in ("role", "NFE", "CFG", "batch", "denoise ms/video", "end-to-end ms/video", "videos/s", "peak MB"):
        table.add_column(col, justify="right")
    for r in result["rows"]:
        table.add_row(
            r["role"],
            str(r["nfe"]),
            r.get("cfg", "none"),
            str(r["batch"]),
            f"{r['denoise_s'] * 1e3:.1f}",
            f"{r['end_to_end_s'] * 1e3:.1f}",
            f"{r['videos_per_s']:.2f}",
            f"{r['peak_mb']:.0f}",
        )
    Console().print(table)
    if "stream" in result:
        s = result["stream"]
        Console().print(
            f"stream of {s['frames']} frames at {s['label']} (batch 1, KV window {s['window']}): first frame after "
            f"{s['time_to_first_frame_s'] * 1e3:.0f} ms, {s['frames_per_s']:.1f} frames/s"
        )


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., metavar="RUN_DIR", help="eval output directories (each with metrics.json)"),
    out: Path = typer.Option(..., help="directory for report.md, report.html, plots and videos"),
    title: str = typer.Option("onestep report", help="page title"),
):
    """Compare eval runs: headline and per-dimension tables, Total vs NFE, latency, paired sample videos."""
    from onestep.commands.report import run

    md, page = run(runs, out, title)
    typer.echo(f"wrote {md} and {page}")


@app.command()
def distill(
    preset: str = typer.Argument(
        ...,
        help="a preset: pose-paper, pose-tiny, pose-demo, the baselines (dmd2, add, apt, lcm, pcm), asd, "
        "pose-wan-i2v-14b, ... (docs/results.md, docs/pose.md)",
    ),
    teacher: Path | None = typer.Option(
        None, help="teacher model directory: a onestep model or a Wan2.1 diffusers folder (default assets/teacher)"
    ),
    data: Path | None = typer.Option(
        None, help="latent cache from `onestep prepare` (a Wan teacher trains on one; default: the embedded world)"
    ),
    out: Path = typer.Option(..., help="run directory (resumes if it holds checkpoints)"),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="override section.key=value, e.g. --set equilibrium.method.consistency_weight=0 or train.seed=1",
    ),
    max_steps: int | None = typer.Option(None, help="stop after this many more steps (resume later)"),
):
    """Distill a teacher into a one-step student (phases of a preset, resumable)."""
    from onestep.commands.distill import run

    if max_steps is not None and max_steps < 1:
        raise UserError(f"--max-steps {max_steps}: use 1 or more steps (leave it out to train to the end)")
    student = run(preset=preset, teacher=teacher, out=out, overrides=set_, data=data, max_steps=max_steps)
    typer.echo(f"student written to {student}")


@app.command()
def compare(
    presets: list[str] = typer.Argument(
        None, help="distillation presets (default: Table 1's pose-paper dmd2 add apt lcm pcm)"
    ),
    budget: int = typer.Option(
        None, help="training steps of every preset, its phases rescaled in proportion (default 300)"
    ),
    out: Path = typer.Option(..., help="comparison directory (resumes: finished presets and evaluations are kept)"),
    ablations: bool = typer.Option(
        False, "--ablations", help="pose-paper and its ablations (Tables 2-3) instead, written to ablations.md/.html"
    ),
    teacher: Path | None = typer.Option(None, help="teacher model directory (default assets/teacher)"),
    n: int = typer.Option(256, help="held-out clips per track in each evaluation"),
    seed: int = typer.Option(0, help="evaluation noise seed (the same for every row)"),
    nfe: list[int] = typer.Option([1, 4], help="NFE at which each student is evaluated (repeat the option)"),
    threads: int = typer.Option(2, help="CPU threads for training"),
):
    """Train presets on the same teacher, data, seed and budget, evaluate each, write one table (the POSE paper's Table
    1)."""
    from rich.console import Console
    from rich.progress import Progress

    from onestep.commands import compare as cmp
    from onestep.commands import distill as dist
    from onestep.commands.eval import run as run_eval
    from onestep.configs.baselines import ABLATIONS, TABLE1
    from onestep.eval.suite import TRACKS

    console = Console()

    def evaluate(model_dir, nfe_, folder, name):
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"evaluating {name} at {nfe_} NFE", total=len(TRACKS) * n)
            run_eval(
                model_dir=model_dir,
                nfe=nfe_,
                tracks=list(TRACKS),
                n=n,
                photos=None,
                conditions=None,
                out=folder,
                seed=seed,
                featnet=None,
                progress=lambda k: bar.advance(task, k),
                name=name,
                say=bar.console.print,
            )

    chosen = list(presets or []) or (["pose-paper", *ABLATIONS] if ablations else list(TABLE1))
    if threads < 1:
        raise UserError(f"--threads {threads}: use 1 or more CPU threads")
    table = cmp.run(
        presets=chosen,
        budget=cmp.DEFAULT_BUDGET if budget is None else budget,
        out=out,
        teacher=teacher,
        n=n,
        seed=seed,
        nfes=nfe,
        threads=threads,
        name="ablations" if ablations else "compare",
        train=lambda preset, run_dir, sets: dist.run(preset=preset, teacher=teacher, out=run_dir, overrides=sets),
        evaluate=evaluate,
        say=console.print,
    )
    console.print(f"table written to {table} and {table.with_suffix('.html')}")


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="a `onestep distill` run of a Wan teacher"),
    out: Path = typer.Option(..., help="the folder to write"),
    format_: str = typer.Option(
        "diffusers",
        "--format",
        help="diffusers (a pipeline folder for from_pretrained) | lora (the student's adapter for "
        "pipe.load_lora_weights; a LoRA-trained run)",
    ),
):
    """Write a distilled Wan student for diffusers: a pipeline folder, or the LoRA of a LoRA-trained student."""
    from onestep.commands.export import run

    typer.echo(f"{format_} export written to {run(run_dir=run_dir, out=out, format=format_)}")


@app.command()
def plan(
    preset: str = typer.Argument(..., help="a distillation preset, e.g. pose-wan-i2v-14b"),
    gpus: int = typer.Option(8, help="GPUs the roles are sharded over"),
    gpu_mem: float | None = typer.Option(None, help="GB per GPU: say whether the run fits"),
    teacher: Path | None = typer.Option(
        None, help="the teacher's folder (default: Wan2.1's published config for the Wan presets, else assets/teacher)"
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="override section.key=value, e.g. --set model.student_lora_rank=64"
    ),
):
    """Memory of each role per GPU for a preset, counted on the meta device (no weights read)."""
    from onestep.commands.plan import run

    if gpu_mem is not None and not gpu_mem > 0:  # NaN too
        raise UserError(f"--gpu-mem {gpu_mem}: pass the GB each GPU has, a positive number")
    run(preset=preset, gpus=gpus, gpu_mem=gpu_mem, teacher=teacher, overrides=set_, say=typer.echo)


@app.command()
def pairs(
    out: Path = typer.Option(..., help="folder for the pairs (resumes if it holds some)"),
    teacher: Path | None = typer.Option(None, help="teacher model directory (default assets/teacher)"),
    preset: str = typer.Option(
        "pose-tiny", help="the distillation preset whose data config (data.pairs, batch, seed) the pairs follow"
    ),
    set_: list[str] = typer.Option([], "--set", help="override section.key=value, e.g. --set data.pairs.count=256"),
):
    """Make the teacher's ODE pairs once (safetensors chunks, resumable); a run reads them with --set
    data.pairs.path=OUT."""
    from onestep.commands.distill import pairs as make

    folder = make(teacher=teacher, out=out, preset=preset, overrides=set_)
    typer.echo(f"ODE pairs written to {folder}")


@app.command()
def prepare(
    videos: Path = typer.Option(
        ...,
        help="folder of videos (.mp4 .mov .avi .mkv .webm .gif), each with its caption in NAME.txt beside it or a "
        "row of metadata.csv (file_name,text)",
    ),
    teacher: Path = typer.Option(
        ..., help="Wan2.1 diffusers folder (T2V or I2V) whose VAE and encoders encode the clips"
    ),
    out: Path = typer.Option(..., help="cache folder (resumes if it holds a cache)"),
    frames: int = typer.Option(81, help="frames per clip, 4k + 1"),
    fps: float = typer.Option(16.0, help="frame rate the clips are sampled at, from each video's start"),
    size: str = typer.Option("480x832", help="HEIGHTxWIDTH, divisible by 16 (resized to cover, centre-cropped)"),
    shard_size: int = typer.Option(16, help="clips per shard file (a killed run loses at most one shard)"),
    negative: str | None = typer.Option(None, help='negative prompt of CFG (default: "", as the Wan pipelines)'),
):
    """Encode captioned videos once with a Wan teacher's VAE and encoders into a latent cache (resumable)."""
    from onestep.commands.prepare import run

    run(
        videos=videos,
        teacher=teacher,
        out=out,
        frames=frames,
        fps=fps,
        size=size,
        shard_size=shard_size,
        negative=negative,
        say=typer.echo,
    )


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="where the run, evaluations and report go"),
    n: int = typer.Option(256, help="held-out clips per track in each evaluation (the shipped ones are 256)"),
):
    """Distill the bundled teacher with POSE (short budget), evaluate, and write the report."""
    from onestep.commands.demo import run

    run(out=out, n=n, say=typer.echo)


def main() -> None:
    """The one place a command's expected failures become their one line (`onestep --debug ...`: the traceback)."""
    try:
        app()
    except UserError as e:
        if DEBUG["on"]:
            raise
        typer.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)
    except OSError as e:
        if DEBUG["on"] or e.errno not in EXPECTED_OS_ERRORS:
            raise
        typer.secho(
            f"error: cannot write {e.filename or 'a file'}: {EXPECTED_OS_ERRORS[e.errno]}; free space or pass another "
            "--out (files written before are intact)",
            fg="red",
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
