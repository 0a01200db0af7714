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


def main() -> None:
    try:
        app()
    except UserError as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
