"""Distribution distances between two sets of features (N, D): Frechet distance and KID.

FD (Heusel et al. 2017): ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}).
KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3,
averaged over subsets. Both are biased by sample size in different ways, so the suite always prints
them next to the data-vs-data floor (two disjoint ground-truth sets of the same size).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():  # near-singular product: regularise as the reference code does
        eps = 1e-6 * np.eye(a.shape[1])
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int = 100, seed: int = 0
) -> float:
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        mmd = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        values.append(mmd)
    return float(np.mean(values))


def coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> float:
    """Coverage (Naeem et al. 2020): the share of real samples whose k-NN ball (among reals) holds a fake.

    In [0, 1]; 1 = the generated set reaches every region of the real one (mode coverage), whatever
    its density; the data-vs-data floor is near 1 - (1 - 1/k)^k-ish, so read it beside the floor.
    """
    k = min(k, len(real) - 1)
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    radius = np.sort(d_rr, axis=1)[:, k]  # column 0 is the point itself
    d_rf = np.linalg.norm(real[:, None] - fake[None], axis=-1)
    return float((d_rf.min(axis=1) < radius).mean())


def spread(features: np.ndarray) -> float:
    """Mean pairwise distance within one condition's samples (N_seeds, D): per-condition diversity."""
    n = len(features)
    if n < 2:
        return 0.0
    d = np.linalg.norm(features[:, None] - features[None], axis=-1)
    return float(d.sum() / (n * (n - 1)))
