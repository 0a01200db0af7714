"""`onestep compare`'s output: one table shaped like the POSE paper's Table 1 (sections by NFE, the
teacher first, a row per preset, value [95% bootstrap interval]), the fairness record of every row,
Total against NFE, and a still of each row's samples beside the ground truth. Markdown with PNGs
beside it, and one self-contained HTML page."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from onestep.configs.baselines import PAPER
from onestep.eval import suite
from onestep.eval.render import Table, figure, html_table, inline_code, md_table, page, png_of, with_interval
from onestep.files import write_atomic
from onestep.media import to_uint8
from onestep.world.clip import WorldConfig

COLUMNS = {
    "Total": "total",
    "Quality": "quality",
    "I2V": "i2v",
    "Semantic": "semantic",
    "camera move acc": "camera_motion_acc",
    "motion direction acc": "motion_direction_acc",
    "first-frame PSNR (dB)": "first_frame_psnr_db",
    "seconds / video": "seconds_per_video",
}
STILL_CLIPS, STILL_SCALE = 3, 2  # clips per track in the still; pixels per pixel


def label(preset: str) -> str:
    return PAPER.get(preset, (preset, ""))[0]


def paradigm(preset: str) -> str:
    return PAPER.get(preset, ("", "—"))[1]


def metrics_of(folder: Path) -> dict | None:
    path = folder / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def results(out: Path, state: dict, presets: list[str]) -> dict[int, list[tuple[str, str, dict]]]:
    """NFE -> [(row label, paradigm, metrics)], the teacher first; only evaluations that exist."""
    by_nfe: dict[int, list] = {}
    for nfe in sorted(set(state["teacher_nfe"]) | set(state["nfe"]), reverse=True):
        rows = []
        teacher = metrics_of(out / "teacher" / f"eval-nfe{nfe}")
        if teacher is not None:
            rows.append(("teacher (Euler, CFG)", "—", teacher))
        rows += [
            (f"{label(p)} (`{p}`)", paradigm(p), m)
            for p in presets
            if (m := metrics_of(out / p / f"eval-nfe{nfe}")) is not None
        ]
        if rows:
            by_nfe[nfe] = rows
    return by_nfe


def main_table(by_nfe: dict) -> Table:
    rows: list = []
    for nfe, entries in by_nfe.items():
        rows.append(f"{nfe} NFE")
        rows += [[name, kind, *(with_interval(m, k) for k in COLUMNS.values())] for name, kind, m in entries]
    return Table(
        "Total and its parts on the embedded world by NFE: value [95% bootstrap interval]",
        ["method", "paradigm", *COLUMNS],
        rows,
    )


def ranking(by_nfe: dict, nfe: int = 1) -> str:
    """A sentence on the first row by Total among the students at `nfe` and whether its interval
    clears the runner-up's."""
    students = sorted(
        ((name, m) for name, kind, m in by_nfe.get(nfe, []) if not name.startswith("teacher")),
        key=lambda e: -e[1]["total"],
    )
    if len(students) < 2:
        return ""
    (first, a), (second, b) = students[0], students[1]
    apart = a["intervals"]["total"][0] > b["intervals"]["total"][1]
    lead, runner_up = with_interval(a, "total"), with_interval(b, "total")
    overlap = "do not overlap" if apart else "overlap"
    return (
        f"At {nfe} NFE, {first} ranks first on Total, {lead}; "
        f"the runner-up {second} has {runner_up}: the intervals {overlap}."
    )


def fairness_table(state: dict, presets: list[str]) -> Table:
    rows = []
    for p in presets:
        r = state["rows"].get(p, {})
        evals = r.get("eval_seconds", {})
        rows.append(
            [
                f"`{p}`",
                str(r.get("steps", "—")),
                ", ".join(f"{k} {v}" for k, v in r.get("phases", {}).items()),
                str(r.get("teacher", "—"))[:12],
                str(r.get("seed", "—")),
                str(r.get("batch", "—")),
                json.dumps(r.get("tracks")),
                json.dumps(r.get("pairs")),
                f"{r['train_seconds'] / 60:.1f}" if "train_seconds" in r else "—",
                f"{sum(evals.values()) / 60:.1f}" if evals else "—",
            ]
        )
    header = [
        "preset",
        "steps",
        "phases",
        "teacher (weights hash)",
        "seed",
        "batch",
        "tracks",
        "ODE pairs",
        "training (min)",
        "evaluation (min)",
    ]
    return Table(
        "Fairness: every row trained from the same teacher, data order, batch, steps and seed; evaluated on n = "
        f"{state['n']} clips per track, noise seed {state['seed']}",
        header,
        rows,
    )


def nfe_plot(by_nfe: dict) -> bytes:
    from matplotlib.figure import Figure

    ax = Figure(figsize=(6.0, 3.6), dpi=100).subplots()
    series: dict[str, list] = {}
    for nfe, entries in by_nfe.items():
        for name, _, m in entries:
            series.setdefault(name.split(" (`")[0], []).append((nfe, m))
    for i, (name, points) in enumerate(series.items()):
        points.sort(key=lambda e: e[0])
        x, y = [e[0] for e in points], [e[1]["total"] for e in points]
        lo_hi = [e[1]["intervals"]["total"] for e in points]
        yerr = [[max(v - lo, 0) for v, (lo, _) in zip(y, lo_hi)], [max(hi - v, 0) for v, (_, hi) in zip(y, lo_hi)]]
        ax.errorbar(
            x,
            y,
            yerr=yerr,
            marker="o",
            capsize=3,
            color="black" if name.startswith("teacher") else f"C{i % 10}",
            label=name,
        )
    ticks = sorted(by_nfe)
    ax.set(xscale="log", xlabel="NFE (network evaluations per video)", ylabel="Total (0-100)")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return png_of(ax.figure)


def still(out: Path, by_nfe: dict, nfe: int, presets: list[str]) -> bytes | None:
    """A PNG: one row per model at `nfe` (the ground truth first), frames 0, middle and last of the
    first STILL_CLIPS eval clips of each track, side by side."""
    import cv2

    rows, names = [], []
    folders = [("teacher", out / "teacher" / f"eval-nfe{nfe}")] + [
        (label(p), out / p / f"eval-nfe{nfe}") for p in presets
    ]
    for name, folder in folders:
        videos = [
            np.load(f)["videos"][:STILL_CLIPS] for t in suite.TRACKS if (f := folder / f"videos-{t}.npz").is_file()
        ]
        if len(videos) == len(suite.TRACKS):
            rows.append(videos)
            names.append(name)
    if not rows:
        return None
    k = min(len(v) for videos in rows for v in videos)  # clips per track every row has
    rows = [np.concatenate([v[:k] for v in videos]) for videos in rows]
    F, size = rows[0].shape[1], rows[0].shape[2]
    truth = [
        to_uint8(c.video) for t in suite.TRACKS for c in suite.heldout_clips(t, k, WorldConfig(frames=F, size=size))
    ]
    rows, names = [np.stack(truth)] + rows, ["ground truth"] + names
    frames = (0, F // 2, F - 1)
    label_w, gap = 150, 4
    lines = []
    for name, videos in zip(names, rows):
        tiles = [
            np.pad(v[k], ((0, 0), (0, gap if k == frames[-1] else 0), (0, 0)), constant_values=255)
            for v in videos
            for k in frames
        ]
        strip = np.concatenate(tiles, axis=1).repeat(STILL_SCALE, 0).repeat(STILL_SCALE, 1)
        text = np.full((strip.shape[0], label_w, 3), 255, np.uint8)
        cv2.putText(
            text, name[:22], (4, strip.shape[0] // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
        )
        lines.append(np.concatenate([text, strip], axis=1))
    image = np.concatenate([np.pad(line, ((0, gap), (0, 0), (0, 0)), constant_values=255) for line in lines])
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return png.tobytes() if ok else None


def write(out: Path, state: dict, presets: list[str], name: str = "compare") -> Path:
    by_nfe = results(out, state, presets)
    tables = [main_table(by_nfe), fairness_table(state, presets)]
    figures = {f"{name}_nfe.png": ("Total against NFE (bars: 95% interval)", nfe_plot(by_nfe))}
    for nfe in sorted(state["nfe"]):
        png = still(out, by_nfe, nfe, presets)
        if png is not None:
            figures[f"{name}_samples_nfe{nfe}.png"] = (
                f"Samples at {nfe} NFE: the first, middle and last frames of the first {STILL_CLIPS} eval clips of "
                "each track (shapes, then photocam)",
                png,
            )
    for file, (_, png) in figures.items():
        write_atomic(out / file, png)
    title = f"onestep compare: {len(presets)} presets at {state['budget']} steps"
    sentence = ranking(by_nfe)
    note = (
        "seconds / video: measured in this comparison on this machine; — where the evaluation was copied from "
        "the ones the teacher ships (timed elsewhere)."
    )
    md = [
        f"# {title}",
        "",
        *([sentence, ""] if sentence else []),
        md_table(tables[0]),
        note,
        "",
        *(md_table(t) + "\n" for t in tables[1:]),
        *(f"![{c}]({n})\n" for n, (c, _) in figures.items()),
    ]
    body = [
        f"<h1>{html.escape(title)}</h1>",
        *([f'<p class="summary">{inline_code(sentence)}</p>'] if sentence else []),
        html_table(tables[0]),
        f'<p class="note">{html.escape(note)}</p>',
        *(html_table(t) for t in tables[1:]),
    ]
    body += [figure(png, c) for c, png in figures.values()]
    write_atomic(out / f"{name}.md", "\n".join(md))
    write_atomic(out / f"{name}.html", page(title, body))
    return out / f"{name}.md"
