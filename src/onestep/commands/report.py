"""Metrics for people: a rich table of one run's headlines, and `onestep report` over several runs."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from onestep.errors import UserError
from onestep.eval import suite

HEADLINE_ORDER = (
    "total",
    "quality",
    "i2v",
    "semantic",
    *(f"total/{t}" for t in suite.TRACKS),
    *suite.HEADLINES,
    "seconds_per_video",
)  # metrics.json keys


def print_metrics(metrics: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"{metrics.get('model', '')}  NFE {metrics.get('nfe')}  n={metrics.get('n')} per track")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% interval", justify="right")
    intervals = metrics.get("intervals", {})
    for key in HEADLINE_ORDER:
        if key in metrics:
            lo_hi = intervals.get(key)
            table.add_row(key, f"{metrics[key]:.4g}", f"[{lo_hi[0]:.4g}, {lo_hi[1]:.4g}]" if lo_hi else "")
    for key, value in metrics.get("conditions", {}).items():
        table.add_row(key, f"{value:.4g}", "")
    console.print(table)
    for track, data in metrics.get("per_track", {}).items():
        d = data["distances"]
        names = sorted({k.split("/")[0] for k in d})
        pairs = ", ".join(
            f"{k} {d[k]:.4g}" + (f" (floor {d[k + '/data_floor']:.4g})" if k + "/data_floor" in d else "")
            for k in names
        )
        console.print(f"[bold]{track}[/bold] distances: " + escape(pairs))


def print_stream(result: dict, console: Console | None = None) -> None:
    """`onestep eval --stream`'s per-segment table and its speed."""
    console = console or Console()
    tracks = list(result["tracks"])
    table = Table(
        title=f"{result.get('model', '')}  {result.get('label')}  streamed {result['length']}x ({result['frames']} "
        f"frames), n={result['n']} per track"
    )
    table.add_column("frames")
    for t in tracks:
        table.add_column(f"Quality {t}", justify="right")
        if t == "photocam":
            table.add_column("camera acc", justify="right")
        table.add_column(f"FD {t}", justify="right")
    for i in range(result["length"]):
        first = result["tracks"][tracks[0]][i]["frames"]
        cells = [f"{first[0]}-{first[1] - 1}"]
        for t in tracks:
            seg = result["tracks"][t][i]
            lo, hi = seg["intervals"]["quality"]
            cells.append(f"{seg['quality']:.1f} [{lo:.1f}, {hi:.1f}]")
            if t == "photocam":
                cells.append(f"{seg['camera_acc']:.2f}")
            cells.append(f"{seg['fd[featnet]']:.3g}")
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"time to first frame {result['time_to_first_frame_s']:.3f} s, {result['frames_per_s']:.1f} frames/s (batch "
        f"1, KV window {result['window']}, sink {result['sink']})"
    )


def run(runs: list[Path], out: Path, title: str, summary: str = "") -> tuple[Path, Path]:
    """Check every run directory first, then write out/report.md and out/report.html (`summary`: the
    paragraph under the title)."""
    from onestep.eval.report import build_report

    if not runs:
        raise UserError("no run directories given: pass one or more `onestep eval --out` directories")
    for d in runs:
        if not d.is_dir():
            raise UserError(f"run directory {d} does not exist: pass a directory written by `onestep eval --out`")
        if not (d / "metrics.json").is_file() and not (d / "stream.json").is_file():
            raise UserError(
                f"{d} has no metrics.json or stream.json: pass a directory written by `onestep eval --out` (or re-run "
                "the eval)"
            )
    return build_report(runs, out, title, summary)
