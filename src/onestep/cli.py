"""The `onestep` command line: parses and dispatches, no logic (STYLE.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from onestep.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="Distill video diffusion models into one-step generators.")


@app.callback()
def _root() -> None:
    """onestep: distill multi-step flow-matching video diffusion models into one-step generators."""


@app.command()
def teacher(
    out: Path = typer.Option(..., help="run directory (resumes if it holds checkpoints)"),
    preset: str = typer.Option("teacher-small", help="teacher-small | teacher-tiny"),
    set_: list[str] = typer.Option([], "--set", help="config override key=value, e.g. --set steps=1000"),
    max_steps: Optional[int] = typer.Option(None, help="stop after this many more steps (resume later)"),
    probe: bool = typer.Option(True, help="log the motion probe on held-out clips"),
):
    """Train the teacher on the embedded world (flow matching, CFG dropout, EMA)."""
    from onestep.commands.teacher import run

    run(out=out, preset=preset, overrides=set_, max_steps=max_steps, probe=probe)


@app.command()
def sample(
    model: Path = typer.Option(..., help="model directory (config.json + model.safetensors)"),
    prompt: str = typer.Option(..., help="what the video shows"),
    image: Optional[Path] = typer.Option(None, help="first frame for image-to-video (resized and centre-cropped)"),
    nfe: Optional[int] = typer.Option(None, help="network evaluations: a CFG teacher takes nfe/2 steps, a student nfe steps"),
    steps: Optional[int] = typer.Option(None, help="sampling steps (instead of --nfe)"),
    cfg: Optional[float] = typer.Option(None, help="classifier-free guidance scale for a teacher (1 = none)"),
    seed: int = typer.Option(0, help="noise seed"),
    out: Path = typer.Option(..., help="output .mp4 or .gif"),
):
    """Generate one video."""
    from onestep.commands.sample import run

    run(model_dir=model, prompt=prompt, image=image, nfe=nfe, steps=steps, cfg=cfg, seed=seed, out=out, say=typer.echo)


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
    nfe: Optional[int] = typer.Option(None, help="network evaluations (default: the model's own sampling)"),
    track: str = typer.Option("all", help="shapes | photocam | all"),
    n: int = typer.Option(256, help="held-out clips per track"),
    photos: Optional[Path] = typer.Option(None, help="a folder of your own photos for the photocam benchmark"),
    conditions: Optional[Path] = typer.Option(None, help="JSONL of your own {prompt, image}: metrics that need no ground truth"),
    seed: int = typer.Option(0, help="noise seed (paired across models)"),
    featnet: Optional[Path] = typer.Option(None, help="feature network for FD/KID (default assets/featnet)"),
    json_: bool = typer.Option(False, "--json", help="print metrics.json"),
    out: Path = typer.Option(..., help="output directory for metrics.json and videos"),
):
    """Evaluate a model: ground-truth panel, VBench-style proxies, FD/KID, intervals."""
    import json as _json

    from rich.progress import Progress

    from onestep.commands.eval import run
    from onestep.commands.report import print_metrics

    tracks = ["shapes", "photocam"] if track == "all" else [track]
    with Progress(transient=True, disable=json_) as bar:
        task = bar.add_task("generating", total=n * len(tracks) if conditions is None else None)
        metrics = run(
            model_dir=model, nfe=nfe, tracks=tracks, n=n, photos=photos, conditions=conditions, out=out, seed=seed, featnet=featnet,
            progress=lambda k: bar.advance(task, k),
        )
    if json_:
        typer.echo(_json.dumps(metrics, indent=2))
    else:
        print_metrics(metrics)


def main() -> None:
    try:
        app()
    except UserError as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
