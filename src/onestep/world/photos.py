"""Real photos that installed packages ship (no download): scikit-image's, split into training and
held-out sets, and an external held-out set from other packages (matplotlib's and scikit-learn's
sample images) that training never sees, for the evaluation of unseen photos (`onestep eval
--photos external`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

TRAIN = (
    "astronaut",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "moon",
    "brick",
    "grass",
    "gravel",
    "page",
    "cell",
    "clock",
    "text",
)
HELDOUT = ("coffee", "camera", "coins", "stereo_motorcycle")
EXTERNAL = {  # name -> (package, path inside it)
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    "present": ("matplotlib", "mpl-data/sample_data/Minduka_Present_Blue_Pack.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
}
TEXTURES = ("brick", "grass", "gravel", "moon", "cell")  # grey textures for shapes backgrounds


@cache
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


def external() -> dict[str, np.ndarray]:
    """The external held-out photos, {name: (H, W, 3) float32 in [0, 1]}."""
    import importlib.util

    import cv2

    out = {}
    for name, (package, rel) in EXTERNAL.items():
        path = Path(importlib.util.find_spec(package).origin).parent / rel
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(
                f"{path} is missing: reinstall {package} (the external held-out photos come with it)"
            )
        out[name] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return out


def names(split: str) -> tuple[str, ...]:
    return TRAIN if split == "train" else HELDOUT
