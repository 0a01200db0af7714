"""Graded corruptions of a video, to check that each proxy moves the right way (meta-validation).

Every corruption is a pure function (video, severity, rng) -> video: video (F, H, W, 3) float in [0, 1],
severity in [0, 1] (0 returns the input unchanged, 1 is the strongest), rng a numpy Generator for any
randomness. The output has the input's shape, float32, clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _out(video: np.ndarray) -> np.ndarray:
    return np.clip(video, 0.0, 1.0).astype(np.float32)


def jitter(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Camera shake: each frame translated by a random integer (dx, dy) up to round(4 * severity) px."""
    m = round(4 * severity)
    if m == 0:
        return _out(video)
    shifts = rng.integers(-m, m + 1, size=(len(video), 2))
    padded = np.pad(video, ((0, 0), (m, m), (m, m), (0, 0)), mode="reflect")  # (F, H + 2m, W + 2m, 3)
    h, w = video.shape[1:3]
    return _out(np.stack([p[m + dy : m + dy + h, m + dx : m + dx + w] for p, (dx, dy) in zip(padded, shifts)]))


def frame_drop(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Dropped frames: round(severity * (F - 1)) of frames 1..F-1, each replaced by its predecessor."""
    out = np.array(video, copy=True)
    n = round(severity * (len(video) - 1))
    for f in sorted(rng.choice(np.arange(1, len(video)), size=n, replace=False)):
        out[f] = out[f - 1]  # ascending, so a run of drops repeats the last kept frame
    return _out(out)


def flicker(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness flicker: a uniform random offset in [-0.3, 0.3] * severity added to each frame."""
    offsets = rng.uniform(-0.3, 0.3, size=len(video)) * severity
    return _out(video + offsets[:, None, None, None])


def blur(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Spatial Gaussian blur of each frame, sigma = 2 * severity px."""
    s = 2.0 * severity
    return _out(ndimage.gaussian_filter(video, sigma=(0.0, s, s, 0.0), mode="reflect")) if s > 0 else _out(video)


def noise(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian pixel noise, std = 0.2 * severity."""
    if severity == 0:
        return _out(video)
    return _out(video + rng.normal(0.0, 0.2 * severity, size=video.shape))


def colour_drift(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """One random channel's gain drifts linearly from 1 at frame 0 to 1 + 0.5 * severity at the last."""
    c = int(rng.integers(3))
    gain = 1.0 + 0.5 * severity * np.arange(len(video)) / max(len(video) - 1, 1)  # (F,)
    out = np.array(video, dtype=np.float64, copy=True)
    out[..., c] *= gain[:, None, None]
    return _out(out)


def freeze(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """The last k = round(severity * (F - 1)) frames repeat the last unfrozen frame F-1-k.

    severity 1 freezes the whole video on frame 0; lower severities freeze a tail, as a generator
    that stops moving part-way.
    """
    k = round(severity * (len(video) - 1))
    out = np.array(video, copy=True)
    if k > 0:
        out[len(video) - k :] = video[len(video) - 1 - k]
    return _out(out)


def first_frame_replace(video: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Frame 0 blended toward other content (itself rolled by W/4 and colour-inverted), weight severity.

    Models a generator that ignores the conditioning image at the first frame; frames 1.. are unchanged.
    """
    other = 1.0 - np.roll(video[0], video.shape[2] // 4, axis=1)
    out = np.array(video, copy=True)
    if severity > 0:
        out[0] = (1.0 - severity) * video[0] + severity * other
    return _out(out)


CORRUPTIONS = {
    "jitter": jitter,
    "frame_drop": frame_drop,
    "flicker": flicker,
    "blur": blur,
    "noise": noise,
    "colour_drift": colour_drift,
    "freeze": freeze,
    "first_frame_replace": first_frame_replace,
}
