"""The streaming section of `onestep report`: per-segment scores of `onestep eval --stream` runs
(eval/stream.py), how they drift over the stream, beside time to first frame and frames per second."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from onestep.eval import suite
from onestep.eval.render import Table, fmt, png_of


def load(paths: list[Path]) -> list[dict]:
    out = []
    for p in paths:
        s = json.loads((p / "stream.json").read_text())
        s["path"] = str(p)
        s["label"] = (
            f"{s.get('name') or Path(s.get('model', p.name)).name} @ {s.get('label', '?')}, {s.get('length')}x "
            f"({p.name})"
        )
        out.append(s)
    return out


def _cell(seg: dict, key: str) -> str:
    lo_hi = seg.get("intervals", {}).get(key)
    return fmt(seg.get(key)) + (f" [{fmt(lo_hi[0])}, {fmt(lo_hi[1])}]" if lo_hi else "")


def tables(streams: list[dict]) -> list[Table]:
    tracks = sorted({t for s in streams for t in s["tracks"]}, key=lambda t: ((*suite.TRACKS, t).index(t), t))
    header = ["frames"]
    for t in tracks:
        header += [f"Quality, {t}"] + (["camera move acc, photocam"] if t == "photocam" else []) + [f"FD featnet, {t}"]
    rows: list[list[str] | str] = []
    for s in streams:
        rows.append(s["label"])
        for i in range(s["length"]):
            first = next(iter(s["tracks"].values()))[i]
            row = ["{}-{}".format(first["frames"][0], first["frames"][1] - 1)]
            for t in tracks:
                seg = s["tracks"].get(t, [{}] * s["length"])[i]
                row += (
                    [_cell(seg, "quality")]
                    + ([_cell(seg, "camera_acc")] if t == "photocam" else [])
                    + [fmt(seg.get("fd[featnet]"))]
                )
            rows.append(row)
    drift = Table("Streaming: each training-length segment scored on its own, value [95% interval]", header, rows)
    speed = Table(
        "Streaming speed at batch 1 (this machine)",
        ["run", "frames", "KV window (latent frames)", "sink frames", "time to first frame (s)", "frames / s"],
        [
            [
                s["label"],
                str(s["frames"]),
                str(s["window"]),
                str(s["sink"]),
                fmt(s["time_to_first_frame_s"]),
                fmt(s["frames_per_s"]),
            ]
            for s in streams
        ],
    )
    return [drift, speed]


def plot(streams: list[dict]) -> bytes:
    """Quality per segment, one line per run and track."""
    from matplotlib.figure import Figure

    ax = Figure(figsize=(5.4, 3.4), dpi=100).subplots()
    for i, s in enumerate(streams):
        for t, style in zip(sorted(s["tracks"]), ("-o", "--s")):
            segs = s["tracks"][t]
            x = [(g["frames"][0] + g["frames"][1]) / 2 for g in segs]
            lo_hi = [g["intervals"]["quality"] for g in segs]
            y = [g["quality"] for g in segs]
            ax.errorbar(
                x,
                y,
                yerr=[
                    [max(v - lo, 0) for v, (lo, _) in zip(y, lo_hi)],
                    [max(hi - v, 0) for v, (_, hi) in zip(y, lo_hi)],
                ],
                fmt=style,
                capsize=3,
                color=f"C{i % 10}",
                label=f"{s['label']}, {t}",
            )
    ax.set(xlabel="frame (segment centre)", ylabel="Quality (0-100)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    return png_of(ax.figure)


FILM_CLIPS = 2  # clips per track and run in the film strip


def filmstrip(streams: list[dict], step: int = 2) -> bytes:
    """A PNG: per run, track and clip (rows), every `step`-th frame of the stream (columns), a white
    bar between training-length segments, so the drift is seen as well as scored."""
    from PIL import Image

    rows = []
    for s in streams:
        for track in sorted(s["tracks"]):
            path = Path(s["path"]) / f"videos-stream-{track}.npz"
            if not path.is_file():
                continue
            with np.load(path) as data:
                videos = data["videos"][:FILM_CLIPS]
            F = s["frames"] // s["length"]
            for v in videos:
                tiles = []
                for i in range(0, len(v), step):
                    tiles.append(v[i])
                    if (i + step) % F == 0 and i + step < len(v):
                        tiles.append(np.full((v.shape[1], 2, 3), 255, np.uint8))
                rows.append(np.concatenate(tiles, 1))
    if not rows:
        return b""
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows], 0)
    buf = io.BytesIO()
    Image.fromarray(sheet).resize((sheet.shape[1] * 3, sheet.shape[0] * 3), Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()
