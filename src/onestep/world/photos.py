"""The real photos scikit-image ships (no download), split into training and held-out sets."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TRAIN = (
    "astronaut", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
    "moon", "brick", "grass", "gravel", "page", "cell", "clock", "text",
)
HELDOUT = ("coffee", "camera", "coins", "stereo_motorcycle")
TEXTURES = ("brick", "grass", "gravel", "moon", "cell")  # grey textures for shapes backgrounds


@lru_cache(maxsize=None)
def load(name: str) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]."""
    import skimage.data

    img = getattr(skimage.data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle -> (left, right, disparity)
        img = img[0]
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.float32)
    elif img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return np.ascontiguousarray(img[..., :3], dtype=np.float32)


def names(split: str) -> tuple[str, ...]:
    return TRAIN if split == "train" else HELDOUT
