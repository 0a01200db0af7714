"""The report people read: `onestep eval` outputs -> report.md and one self-contained report.html.

One row of headlines per run with its 95% bootstrap intervals; per track, every dimension (an
aggregate hides which one moved) and FD/KID beside the data-vs-data floor; Total against NFE;
latency; and the sample videos side by side. Eval clip i of a track is the same condition for every
run (world seed suite.HELDOUT_SEED + i) and the same noise when the runs share --seed, so a row of
the video grid is a paired comparison, next to the ground-truth clip itself.
"""

from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from onestep.errors import UserError
from onestep.eval import aggregate, contact_sheet, suite
from onestep.eval.render import (
    Table,
    data_uri,
    figure,
    fmt,
    html_table,
    inline_code,
    md_table,
    page,
    png_of,
    with_interval,
)
from onestep.files import write_atomic
from onestep.media import to_uint8
from onestep.world import photos as world_photos
from onestep.world.clip import WorldConfig

SAMPLE_CLIPS = 6  # rows of the video grid per track
GIF_SCALE, GIF_FPS = 4, 8
# headline column -> metrics.json key (suite.summarise)
HEADLINES = {
    "Total": "total",
    "Quality": "quality",
    "I2V": "i2v",
    "Semantic": "semantic",
    "Total, shapes": "total/shapes",
    "Total, t2v": "total/t2v",
    "Total, photocam": "total/photocam",
    "solid objects, shapes": "object_solid",
    "crisp objects, shapes": "object_crisp",
    "solid objects, t2v": "t2v_object_solid",
    "crisp objects, t2v": "t2v_object_crisp",
    "shape, t2v": "t2v_object_shape_fit",
    "path, t2v": "t2v_object_path",
    "first-frame PSNR (dB)": "first_frame_psnr_db",
    "GT PSNR (dB), photocam": "gt_psnr_db",
    "GT SSIM, photocam": "gt_ssim",
    "baseline: repeat frame 0, PSNR (dB)": "repeat_first_frame_psnr_db",
    "motion direction acc, shapes": "motion_direction_acc",
    "camera move acc, photocam": "camera_motion_acc",
    "dynamic degree": "dynamic_degree",
    "seconds / video": "seconds_per_video",
}


@dataclass
class Run:
    path: Path
    metrics: dict
    videos: dict[str, np.ndarray]  # track -> (N, F, H, W, 3) uint8
    label: str


def load_runs(paths: list[Path]) -> list[Run]:
    runs = []
    for path in paths:
        try:
            metrics = json.loads((path / "metrics.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(
                f"{path / 'metrics.json'} does not read as JSON ({type(e).__name__}): evaluate that run again with "
                "`onestep eval`"
            ) from e
        if not isinstance(metrics, dict):
            raise UserError(
                f"{path / 'metrics.json'} is not a JSON object: evaluate that run again with `onestep eval`"
            )
        videos = {}
        for track in (
            t for t in metrics.get("tracks", []) if (path / f"videos-{t}.npz").is_file()
        ):  # not --conditions videos
            with np.load(path / f"videos-{track}.npz") as data:
                videos[track] = data["videos"]
        name = metrics.get("name") or Path(metrics.get("model", path.name)).name  # "name": set by `onestep demo`
        name += (
            " (shipped evaluation)" if "shipped" in metrics else ""
        )  # eval/shipped.py: copied, not evaluated in this run
        sampler = metrics.get("sampler", {})
        at = (
            f"{sampler['steps']}* (FFE)"
            if sampler.get("kind") == "causal" and sampler.get("first_block_steps")
            else f"NFE {metrics.get('nfe', '?')}"
        )  # ASD's row names
        runs.append(Run(path, metrics, videos, f"{name} @ {at}{conditions(metrics)}"))
    labels = [r.label for r in runs]
    for r in runs:
        if labels.count(r.label) > 1:  # same model and NFE twice (other seed or n): name the run directory too
            r.label += f" ({r.path.name})"
    return runs


def conditions(metrics: dict) -> str:
    """How a run's conditions differ from the default held-out clips, for its label."""
    out = ", paraphrase" if metrics.get("prompts") == "paraphrase" else ""
    photos = metrics.get("photos")
    return out + (f", {Path(photos).name} photos" if photos else "")


# ---- tables ----


def headline_table(runs: list[Run]) -> Table:
    rows = [
        [r.label, r.metrics.get("role", "—"), *(with_interval(r.metrics, k) for k in HEADLINES.values())] for r in runs
    ]
    return Table("Headlines: value [95% bootstrap interval]", ["run", "role", *HEADLINES], rows)


LANGUAGE = {"camera move acc, photocam": "camera_motion_acc", "motion direction acc, shapes": "motion_direction_acc"}


def language_table(runs: list[Run]) -> Table | None:
    """Motion following with the training grammar's prompts beside held-out phrasings of the same
    clips: one row per model, NFE and photo set that has a paraphrase run."""
    groups: dict[tuple, dict[str, Run]] = {}
    for r in runs:
        key = (r.metrics.get("model"), r.metrics.get("nfe"), r.metrics.get("photos"), r.metrics.get("n"))
        groups.setdefault(key, {})[r.metrics.get("prompts", "template")] = r
    rows = []
    for (model, nfe, photos, n), by in groups.items():
        if "paraphrase" not in by:
            continue
        template, para = by.get("template"), by["paraphrase"]
        cells = []
        for key in LANGUAGE.values():
            a = template.metrics.get(key) if template else None
            b = para.metrics.get(key)
            gap = f"{100 * (b - a):+.1f} pts" if isinstance(a, float) and isinstance(b, float) else "—"
            cells += [with_interval(template.metrics, key) if template else "—", with_interval(para.metrics, key), gap]
        rows.append([f"{Path(str(model)).name} @ NFE {nfe}", photos or "held-out", str(n), *cells])
    if not rows:
        return None
    header = ["model", "photos", "n"]
    for name in LANGUAGE:
        header += [f"{name}: template", "paraphrase", "change"]
    return Table(
        "Held-out language: the same clips asked for in the training grammar's words and in held-out words "
        "(eval/paraphrase.py)",
        header,
        rows,
    )


def dimension_table(runs: list[Run], track: str) -> Table:
    """Scores, then each anchored dimension as 'normalised (raw mean)', then the raw-only means."""
    data = [r.metrics.get("per_track", {}).get(track, {}) for r in runs]
    anchors = next((d["anchors"] for d in data if d.get("anchors")), {})
    raw_keys = sorted({k for d in data for k in d.get("metrics", {})})
    anchored = [
        k
        for k in (*aggregate.QUALITY, *aggregate.I2V, *aggregate.SEMANTIC, *aggregate.MOTION)
        if any(f"norm/{k}" in d.get("scores", {}) for d in data)
    ]
    rows: list[list[str] | str] = [
        [k, "", *(fmt(d.get("scores", {}).get(k)) for d in data)]
        for k in ("total", "quality", "i2v", "semantic", "motion")
    ]
    rows.append("normalised dimensions: score 0-100 (raw mean)")
    for k in anchored:
        lo_hi = " → ".join(fmt(v) for v in anchors.get(k, ())) or "—"
        cells = [f"{fmt(d.get('scores', {}).get(f'norm/{k}'))} ({fmt(d.get('metrics', {}).get(k))})" for d in data]
        rows.append([k, lo_hi, *cells])
    rows.append("other raw means")
    rows += [[k, "", *(fmt(d.get("metrics", {}).get(k)) for d in data)] for k in raw_keys if k not in anchored]
    return Table(f"{track}: dimensions", ["dimension", "raw at score 0 → 100", *(r.label for r in runs)], rows)


def distance_table(runs: list[Run], track: str) -> Table:
    data = [r.metrics.get("per_track", {}).get(track, {}).get("distances", {}) for r in runs]
    names = sorted({k for d in data for k in d if "/" not in k})
    rows = []
    for k in names:
        floors = {fmt(d.get(f"{k}/data_floor")) for d in data if k in d}  # one value unless n or featnet differ
        cells = [
            fmt(d.get(k)) + ("" if len(floors) == 1 else f" (floor {fmt(d.get(f'{k}/data_floor'))})") for d in data
        ]
        rows.append([k, floors.pop() if len(floors) == 1 else "differs by run", *cells])
    return Table(
        f"{track}: distances to the ground truth (lower is better; the floor is a second ground-truth set)",
        ["distance", "data floor", *(r.label for r in runs)],
        rows,
    )


# ---- plots (matplotlib's Agg canvas, no pyplot state) ----


def _colours(runs: list[Run]) -> dict[str, str]:
    return {m: f"C{i % 10}" for i, m in enumerate(dict.fromkeys(r.metrics.get("model", "") for r in runs))}


def quality_vs_nfe(runs: list[Run]) -> bytes:
    """Total against NFE (log x), one series per model, error bars from the bootstrap interval."""
    from matplotlib.figure import Figure

    ax = Figure(figsize=(5.4, 3.4), dpi=100).subplots()
    for model, colour in _colours(runs).items():
        ms = sorted(
            (r.metrics for r in runs if r.metrics.get("model", "") == model and "total" in r.metrics),
            key=lambda m: m["nfe"],
        )
        if not ms:
            continue
        x, y = [m["nfe"] for m in ms], [m["total"] for m in ms]
        lo_hi = [m.get("intervals", {}).get("total", (m["total"], m["total"])) for m in ms]
        yerr = [[max(v - lo, 0) for v, (lo, _) in zip(y, lo_hi)], [max(hi - v, 0) for v, (_, hi) in zip(y, lo_hi)]]
        ax.errorbar(
            x, y, yerr=yerr, marker="o", capsize=3, color=colour, label=ms[0].get("name") or Path(model).name or "?"
        )
    ticks = sorted({r.metrics["nfe"] for r in runs if "total" in r.metrics})
    ax.set(xscale="log", xlabel="NFE (network evaluations per video)", ylabel="Total (0-100)")
    ax.set_xticks(ticks, [str(t) for t in ticks], minor=False)
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return png_of(ax.figure)


def latency(runs: list[Run]) -> bytes:
    from matplotlib.figure import Figure

    timed = [r for r in runs if "seconds_per_video" in r.metrics]
    ax = Figure(figsize=(5.4, 0.9 + 0.4 * max(len(timed), 1)), dpi=100).subplots()
    secs, colours = [r.metrics["seconds_per_video"] for r in timed], _colours(runs)
    ax.barh(range(len(timed)), secs, color=[colours[r.metrics.get("model", "")] for r in timed])
    ax.set_yticks(range(len(timed)), [r.label for r in timed])
    ax.set(xlabel="seconds per video (this machine)", ylim=(len(timed) - 0.5, -0.5))  # first run on top
    ax.margins(x=0.15)
    for i, s in enumerate(secs):
        ax.text(s, i, f" {fmt(s)} s", va="center", fontsize=8)
    return png_of(ax.figure)


# ---- videos ----


def gif(video: np.ndarray) -> bytes:
    """(F, H, W, 3) uint8 -> an animated GIF, upscaled nearest-neighbour, looping forever."""
    from PIL import Image

    frames = [Image.fromarray(f) for f in video.repeat(GIF_SCALE, axis=1).repeat(GIF_SCALE, axis=2)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=1000 // GIF_FPS, loop=0)
    return buf.getvalue()


def sample_section(runs: list[Run], track: str, out: Path) -> tuple[str, str]:
    """(Markdown, HTML) of one track's video grid: row i = eval clip i, one column per run, and the
    ground truth first; the GIFs are written to out/videos for the Markdown and embedded in the HTML."""
    have = [r.videos[track] for r in runs if track in r.videos]
    n = min(SAMPLE_CLIPS, max(len(v) for v in have))
    columns = {f"run{j}": (r.label, r.videos.get(track, ())) for j, r in enumerate(runs)}
    prompts = [""] * n
    photo_sets = {r.metrics.get("photos") for r in runs}
    if len(photo_sets) == 1 and photo_sets <= {
        None,
        "external",
    }:  # a run on the user's photos cannot rebuild its ground truth
        library = world_photos.external() if photo_sets == {"external"} else None
        config = WorldConfig(frames=have[0].shape[1], size=have[0].shape[2])
        clips = suite.heldout_clips(track, n, config, library)
        columns = {"gt": ("ground truth", [to_uint8(c.video) for c in clips]), **columns}
        prompts = [c.prompt for c in clips]
        if any(r.metrics.get("prompts") == "paraphrase" for r in runs):
            reworded = suite.heldout_clips(track, n, config, library, prompts="paraphrase")
            prompts = [f"{p} | paraphrase: {c.prompt}" for p, c in zip(prompts, reworded)]
    md_rows, rows = [], []
    for i, prompt in enumerate(prompts):
        md_cells, cells = [], []
        for slug, (label, videos) in columns.items():
            if i >= len(videos):
                md_cells.append("—")
                cells.append('<td><div class="missing">—</div></td>')
                continue
            data, name = gif(videos[i]), f"{track}-{i:02d}-{slug}.gif"
            write_atomic(out / "videos" / name, data)
            md_cells.append(f"![{track} {i} {slug}](videos/{name})")
            cells.append(
                f'<td><img src="{data_uri("image/gif", data)}" alt="{html.escape(f"{track} clip {i}: {label}")}"></td>'
            )
        md_rows.append([f"{i}: {prompt}" if prompt else str(i), *md_cells])
        rows.append(f"<tr><td>{i}</td>{''.join(cells)}</tr>")
        rows.append(
            f'<tr class="prompt"><td></td><td colspan="{len(columns)}">{html.escape(prompt)}</td></tr>'
            if prompt
            else ""
        )
    labels = ["clip", *(label for label, _ in columns.values())]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in labels)
    table = f'<table class="grid" style="width:{44 + 140 * len(columns)}px">'
    grid = f'<div class="scroll">{table}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    return md_table(Table(f"{track}: samples", labels, md_rows)), f"<h3>{html.escape(track)}</h3>{grid}"


# ---- writing ----


def build_report(runs: list[Path], out: Path, title: str = "onestep report", summary: str = "") -> tuple[Path, Path]:
    """Write out/report.md (+ PNG plots and out/videos/*.gif beside it) and a self-contained out/report.html;
    `summary`, a paragraph in Markdown's inline code only, stands under the title."""
    from onestep.eval import report_stream

    loaded = load_runs([Path(p) for p in runs if (Path(p) / "metrics.json").is_file()])
    streams = report_stream.load([Path(p) for p in runs if (Path(p) / "stream.json").is_file()])
    (out / "videos").mkdir(parents=True, exist_ok=True)
    tracks = sorted(
        {t for r in loaded for t in (*r.videos, *r.metrics.get("per_track", {}))},
        key=lambda t: ((*suite.TRACKS, t).index(t), t),
    )
    plots = (
        {
            "quality_vs_nfe.png": ("Total against NFE (bars: 95% interval)", quality_vs_nfe(loaded)),
            "latency.png": ("Latency", latency(loaded)),
        }
        if loaded
        else {}
    )
    if streams:
        plots["stream_drift.png"] = (
            "Quality of each segment of a stream (bars: 95% interval)",
            report_stream.plot(streams),
        )
        strip = report_stream.filmstrip(streams)
        if strip:
            plots["stream_frames.png"] = (
                f"Streams, every 2nd frame, {report_stream.FILM_CLIPS} clips per track and run (white bars: "
                "training-length segments)",
                strip,
            )
    for name, (_, png) in plots.items():
        write_atomic(out / name, png)
    run_lines = [
        (r.label, f"{r.path} · model {r.metrics.get('model', '?')} · n={r.metrics.get('n', '?')} clips per track")
        for r in loaded
    ]
    run_lines += [(s["label"], f"{s['model']} · n={s['n']} clips per track · {s['frames']} frames") for s in streams]
    pairing = (
        "Row i of a grid is eval clip i of the track in every column: the same condition, and the same noise "
        "when the runs used the same --seed."
    )

    sheet = (
        contact_sheet.draw([(r.label, r.videos, r.metrics.get("photos")) for r in loaded], tracks) if loaded else None
    )
    if sheet is not None:
        write_atomic(out / "contact_sheet.png", sheet)
    sheet_caption = (
        "Contact sheet: the same held-out conditions for every run "
        "(image-to-video tracks get frame 0 from the truth; t2v makes its own)"
    )
    md = [
        f"# {title}",
        "",
        *([summary, ""] if summary else []),
        *([f"![{sheet_caption}](contact_sheet.png)", ""] if sheet else []),
    ]
    md += [*(f"- **{label}**: {where}" for label, where in run_lines), ""]
    md += ["## Headlines", "", md_table(headline_table(loaded))] if loaded else []
    language = language_table(loaded) if loaded else None
    if language is not None:
        md += ["## Held-out language", "", md_table(language)]
    md += ["## Plots", "", *(f"![{caption}]({name})\n" for name, (caption, _) in plots.items())]
    body = [f"<h1>{html.escape(title)}</h1>", *([f'<p class="summary">{inline_code(summary)}</p>'] if summary else [])]
    if sheet is not None:
        body.append(figure(sheet, sheet_caption))
    body += [
        *(
            f'<p class="runs"><b>{html.escape(label)}</b>: <code>{html.escape(where)}</code></p>'
            for label, where in run_lines
        )
    ]
    if loaded:
        body += [
            "<h2>Headlines</h2>",
            html_table(headline_table(loaded)),
            '<p class="note">— = not measured for this run.</p>',
        ]
    if streams:
        md += ["## Streaming", "", *(md_table(t) for t in report_stream.tables(streams))]
        body += ["<h2>Streaming</h2>", *(html_table(t) for t in report_stream.tables(streams))]
    if language is not None:
        body += ["<h2>Held-out language</h2>", html_table(language)]
    body += ["<h2>Plots</h2>", '<div class="plots">']
    body += [figure(png, caption) for caption, png in plots.values()]
    body.append("</div>")
    for track in tracks:
        tables = [dimension_table(loaded, track), distance_table(loaded, track)]
        md += [f"## {track}", "", *(md_table(t) for t in tables)]
        body += [f"<h2>{html.escape(track)}</h2>", *(html_table(t) for t in tables)]
    md += ["## Samples", "", pairing, ""]
    body += ["<h2>Samples</h2>", f'<p class="note">{html.escape(pairing)}</p>']
    sections = [sample_section(loaded, t, out) for t in tracks if any(t in r.videos for r in loaded)]
    md, body = md + [m for m, _ in sections], body + [h for _, h in sections]

    write_atomic(out / "report.md", "\n".join(md))
    write_atomic(out / "report.html", page(title, body))
    return out / "report.md", out / "report.html"
