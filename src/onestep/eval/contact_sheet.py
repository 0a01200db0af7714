"""The report's first picture: a few fixed conditions per track, frames 0, middle and last of the
ground truth and of every run, one row each, so the first screen shows what the numbers say."""

from __future__ import annotations

import io

import numpy as np

from onestep.eval import suite
from onestep.media import to_uint8
from onestep.world import photos as world_photos
from onestep.world.clip import WorldConfig

CLIPS = 3  # conditions per track


def draw(runs: list[tuple[str, dict[str, np.ndarray], str | None]], tracks: list[str]) -> bytes | None:
    """PNG bytes for runs given as (label, {track: (N, F, H, W, 3) uint8 videos}, photo set or None);
    None when no run has videos or a run used the user's own photos (its truth cannot be rebuilt)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [t for t in tracks if any(t in videos for _, videos, _ in runs)]
    if not shown or any(photos not in (None, "external") for *_, photos in runs):
        return None
    library = world_photos.external() if any(photos == "external" for *_, photos in runs) else None
    panels = []
    for track in shown:
        have = [(label, videos[track]) for label, videos, _ in runs if track in videos]
        k = min(CLIPS, *(len(v) for _, v in have))
        frames, size = have[0][1].shape[1], have[0][1].shape[2]
        truth = [
            to_uint8(c.video) for c in suite.heldout_clips(track, k, WorldConfig(frames=frames, size=size), library)
        ]
        gap = np.full((size, 2, 3), 255, np.uint8)

        def row(clips) -> np.ndarray:  # (H, k * (3 W + 4), 3): frames 0, middle, last of each clip
            return np.concatenate(
                [np.concatenate([clip[f] for f in (0, frames // 2, frames - 1)] + [gap, gap], 1) for clip in clips[:k]],
                1,
            )

        rows = [row(truth), *(row(v) for _, v in have)]
        image = np.concatenate([np.concatenate([r, np.full((2, r.shape[1], 3), 255, np.uint8)]) for r in rows])
        panels.append((track, ["ground truth", *(label for label, _ in have)], image))
    fig = Figure(figsize=(9, sum(1.0 + 0.55 * len(labels) for _, labels, _ in panels)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, (track, labels, image) in zip(axes[:, 0], panels):
        ax.imshow(image, interpolation="nearest")
        step = image.shape[0] / len(labels)
        ax.set_yticks([step * (i + 0.5) for i in range(len(labels))], labels, fontsize=8)
        ax.set_xticks([])
        ax.set_title(f"{track}: {CLIPS} clips, frames 0 / middle / last", fontsize=9, loc="left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # the row labels are wider than the axes
    return buf.getvalue()
