"""The evaluation suite: one model, one sampler, held-out conditions -> metrics.json.

Tracks: `shapes` (image-to-video: the first frame given), `t2v` (the same shapes clips from the
prompt alone: the model makes the first frame too) and `photocam` (image-to-video camera moves).
For each track: held-out clips (fixed seeds, so every model sees the same conditions and noise),
generated videos, the ground-truth panel, the VBench-style proxies and aggregates (anchored on the
same clips' ground truth), FD/KID in two feature spaces next to the data-vs-data floor, and
bootstrap 95% intervals (clips resampled within each track) on every headline number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from onestep import world
from onestep.eval import aggregate, distance, features, paraphrase, shipped
from onestep.eval.sample import SamplerSpec, generate_for_clips
from onestep.world.clip import Clip, WorldConfig

HELDOUT_SEED = 1_000_000_000  # eval clip i of a track uses seed HELDOUT_SEED + i (training never does)
FLOOR_SEED = 2_000_000_000  # a disjoint ground-truth set for the data-vs-data floor
ANCHOR_CLIPS = 64
BOOTSTRAP = 1000
DIVERSITY_CONDITIONS = 8  # conditions sampled at DIVERSITY_SEEDS noise seeds each
DIVERSITY_SEEDS = 4
TRACKS = ("shapes", "t2v", "photocam")  # `eval`'s default, in report order
WORLD_TRACK = {"t2v": "shapes"}  # the world track a suite track's clips come from (default: its own name)
# headline key -> (track, per-clip field); Total/Quality/I2V/Semantic are handled separately
HEADLINES = {
    "object_solid": ("shapes", "solid"),
    "object_crisp": ("shapes", "crisp"),
    "object_shape_fit": ("shapes", "object_shape"),
    "object_path": ("shapes", "path"),
    "t2v_object_presence": ("t2v", "presence"),
    "t2v_object_solid": ("t2v", "solid"),
    "t2v_object_crisp": ("t2v", "crisp"),
    "t2v_object_shape_fit": ("t2v", "object_shape"),
    "t2v_object_path": ("t2v", "path"),
    "first_frame_psnr_db": (None, "first_frame_psnr"),
    "gt_psnr_db": ("photocam", "gt_psnr"),
    "repeat_first_frame_psnr_db": ("photocam", "repeat_psnr"),
    "gt_ssim": ("photocam", "gt_ssim"),
    "repeat_first_frame_ssim": ("photocam", "repeat_ssim"),
    "motion_direction_acc": ("shapes", "direction_acc"),
    "object_presence": ("shapes", "presence"),
    "object_permanence": ("shapes", "permanence"),
    "bounce_acc": ("shapes", "bounce_acc"),
    "background_err": ("shapes", "background_err"),
    "camera_param_err": ("photocam", "camera_param_err"),
    "shape_acc": ("shapes", "shape_acc"),
    "colour_acc": ("shapes", "colour_acc"),
    "camera_motion_acc": ("photocam", "camera_acc"),
    "dynamic_degree": (None, "dynamic_degree[dis]"),
}


def i2v(track: str) -> bool:
    """Whether a suite track gives the model the first frame."""
    return track != "t2v"


PROMPTS = ("template", "paraphrase")  # the training grammar's phrasings, or the held-out ones (eval/paraphrase.py)


def heldout_clips(
    track: str,
    n: int,
    config: WorldConfig,
    photos: dict | None = None,
    seed: int = HELDOUT_SEED,
    prompts: str = "template",
) -> list[Clip]:
    """Eval clip i of a track: world seed `seed + i`; with prompts="paraphrase" the same clip is
    asked for in held-out words (same video, first frame and ground truth)."""
    if track == "photocam" and photos is not None:
        clips = [world.photocam.sample_from_photos(photos, seed + i, config) for i in range(n)]
    else:
        clips = [world.sample(WORLD_TRACK.get(track, track), seed + i, "heldout", config) for i in range(n)]
    if prompts == "paraphrase":
        clips = [dataclasses.replace(c, prompt=paraphrase.prompt(c, seed + i)) for i, c in enumerate(clips)]
    return clips


def anchors_name(track: str, config: WorldConfig, photos: dict | None) -> str:
    """The anchors' file name: the conditions they depend on and the code version (eval/shipped.py)."""
    key = hashlib.sha1(
        json.dumps(
            [track, config.frames, config.size, ANCHOR_CLIPS, sorted(photos or {}), shipped.EVAL_VERSION]
        ).encode()
    ).hexdigest()[:12]
    return f"anchors-{track}-{key}.json"


def cached_anchors(
    track: str, config: WorldConfig, photos: dict | None, cache_dir: Path, shipped_dir: Path | None = None
) -> dict:
    """Anchors depend only on the conditions: computed once and kept in the cache directory, or read
    from `shipped_dir` (the bundled teacher's evals/) where the same file ships."""
    name = anchors_name(track, config, photos)
    for path in (*([shipped_dir / name] if shipped_dir else []), cache_dir / name):
        if path.is_file():
            return {k: tuple(v) for k, v in json.loads(path.read_text()).items()}
    clips = heldout_clips(track, ANCHOR_CLIPS, config, photos)
    bounds = aggregate.anchors(clips, track=track)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / name
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")  # two evaluations may fill the cache at once
    tmp.write_text(json.dumps(bounds))
    tmp.replace(path)
    return bounds


def bootstrap(per_track: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[float, float]:
    """95% interval of the mean over tracks of per-track means, clips resampled within each track."""
    draws = []
    for _ in range(BOOTSTRAP):
        means = [np.nanmean(v[rng.integers(0, len(v), len(v))]) for v in per_track.values() if len(v)]
        draws.append(np.nanmean(means))
    return float(np.nanpercentile(draws, 2.5)), float(np.nanpercentile(draws, 97.5))


@dataclass
class TrackResult:
    clips: list[Clip]
    videos: np.ndarray
    rows: list[dict]  # per clip: ground-truth panel + raw dimensions
    bounds: dict  # anchors {dimension: (lo, hi)}
    distances: dict
    seconds: float

    @cached_property
    def _table(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(dimensions, per-clip values with 0 where missing, 1 where present): the rows as arrays, so a
        bootstrap draw is two sums, not a pass over dictionaries."""
        keys = list(self.bounds)
        values = np.array([[r.get(k, np.nan) for k in keys] for r in self.rows], dtype=np.float64).reshape(
            len(self.rows), len(keys)
        )
        present = np.isfinite(values)
        return keys, np.where(present, values, 0.0), present.astype(np.float64)

    def scores(self, idx: np.ndarray | None = None) -> dict[str, float]:
        """Quality / I2V / Total of the mean raw dimensions over clips idx (all by default): like VBench,
        the average of each dimension is normalised, so ground truth scores exactly 100."""
        keys, values, present = self._table
        if idx is not None:
            values, present = values[idx], present[idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = values.sum(0) / present.sum(0)  # NaN for a dimension no clip has, as finite_mean
        norm = aggregate.normalise(dict(zip(keys, means.tolist())), self.bounds)
        return {**aggregate.scores(norm), **{f"norm/{k}": v for k, v in norm.items()}}

    def score_draws(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Quality / I2V / Semantic / Motion / Total of each row of clip indices idx (D, n) at once,
        each equal to `scores(idx[d])`'s: a bootstrap's draws in a few array operations."""
        keys, values, present = self._table
        with np.errstate(invalid="ignore", divide="ignore"):
            means = values[idx].sum(1) / present[idx].sum(1)
        return aggregate.scores_of_many(means, keys, self.bounds)


def evaluate_track(
    model,
    encoder,
    track: str,
    n: int,
    spec: SamplerSpec,
    *,
    config: WorldConfig,
    featnet,
    photos=None,
    cache_dir: Path,
    shipped_dir: Path | None = None,
    seed: int = 0,
    progress=None,
    prompts: str = "template",
) -> TrackResult:
    clips = heldout_clips(track, n, config, photos, prompts=prompts)
    t0 = time.perf_counter()
    videos = generate_for_clips(model, encoder, clips, spec, seed=seed, callback=progress, i2v=i2v(track))
    seconds = time.perf_counter() - t0
    bounds = cached_anchors(track, config, photos, cache_dir, shipped_dir)
    rows = aggregate.rows(videos, clips, track)
    floor = heldout_clips(track, n, config, photos, seed=FLOOR_SEED)
    truth = np.stack([c.video for c in clips])
    dists = {}
    for name, net in (("featnet", featnet), ("random", features.random_net())):
        f_gen, f_gt, f_floor = (features.extract(net, v) for v in (videos, truth, np.stack([c.video for c in floor])))
        dists[f"fd[{name}]"] = distance.frechet_distance(f_gen, f_gt)
        dists[f"kid[{name}]"] = distance.kernel_inception_distance(f_gen, f_gt)
        dists[f"fd[{name}]/data_floor"] = distance.frechet_distance(f_floor, f_gt)
        dists[f"kid[{name}]/data_floor"] = distance.kernel_inception_distance(f_floor, f_gt)
        dists[f"coverage[{name}]"] = distance.coverage(f_gt, f_gen)
        dists[f"coverage[{name}]/data_floor"] = distance.coverage(f_gt, f_floor)
    dists.update(diversity(model, encoder, clips[:DIVERSITY_CONDITIONS], spec, featnet, seed, i2v(track)))
    return TrackResult(clips, videos, rows, bounds, dists, seconds)


def diversity(
    model, encoder, clips: list[Clip], spec: SamplerSpec, featnet, seed: int, i2v: bool = True
) -> dict[str, float]:
    """Per-condition spread across noise seeds, in featnet space and in pixels (mean pairwise distance).

    Compare with the teacher's: a mode-collapsed student has a spread near 0 for the same conditions.
    """
    feats, pixels = [], []
    for s in range(DIVERSITY_SEEDS):
        videos = generate_for_clips(model, encoder, clips, spec, seed=seed + 1000 + s, i2v=i2v)
        feats.append(features.extract(featnet, videos))
        pixels.append(videos.reshape(len(videos), -1))
    feats, pixels = np.stack(feats, 1), np.stack(pixels, 1)  # (conditions, seeds, D)
    return {
        "spread[featnet]": float(np.mean([distance.spread(f) for f in feats])),
        "spread[pixels]": float(np.mean([distance.spread(p) / np.sqrt(p.shape[1]) for p in pixels])),  # RMS per pixel
    }


def summarise(results: dict[str, TrackResult], spec: SamplerSpec, n: int, seed: int = 0) -> dict:
    """metrics.json content: headlines with 95% intervals, per-track tables, distances."""
    rng = np.random.default_rng(seed)
    out = {"nfe": spec.nfe, "n": n, "tracks": sorted(results), "sampler": spec.described(), "intervals": {}}

    def per_track(field: str, only: str | None = None) -> dict[str, np.ndarray]:
        return {
            t: np.array([r[field] for r in res.rows if field in r and np.isfinite(r[field])])
            for t, res in results.items()
            if only in (None, t)
        }

    tracks = list(results.values())
    resample = lambda res: rng.integers(0, len(res.rows), len(res.rows))  # noqa: E731
    for key in ("total", "quality", "i2v", "semantic"):
        out[key] = float(np.nanmean([res.scores()[key] for res in tracks]))
        picks = [[resample(res) for res in tracks] for _ in range(BOOTSTRAP)]  # draw by draw, as the seed's stream
        by_track = [res.score_draws(np.stack([p[i] for p in picks]))[key] for i, res in enumerate(tracks)]
        draws = np.nanmean(np.stack(by_track), axis=0)  # each draw re-normalises the resampled means
        out["intervals"][key] = (float(np.nanpercentile(draws, 2.5)), float(np.nanpercentile(draws, 97.5)))
    for t, res in results.items():  # each track's Total with its own interval
        draws = res.score_draws(np.stack([resample(res) for _ in range(BOOTSTRAP)]))["total"]
        out[f"total/{t}"] = res.scores()["total"]
        out["intervals"][f"total/{t}"] = (float(np.nanpercentile(draws, 2.5)), float(np.nanpercentile(draws, 97.5)))
    for key, (track, field) in HEADLINES.items():
        vals = {t: v for t, v in per_track(field, track).items() if len(v)}
        if not vals:
            continue
        out[key] = float(np.mean([v.mean() for v in vals.values()]))
        out["intervals"][key] = bootstrap(vals, rng)
    videos = sum(len(r.videos) for r in results.values())
    out["seconds_per_video"] = sum(r.seconds for r in results.values()) / max(videos, 1)
    out["per_track"] = {}
    for t, res in results.items():
        keys = sorted({k for r in res.rows for k in r})
        table = {k: aggregate.finite_mean([r[k] for r in res.rows if k in r]) for k in keys}
        out["per_track"][t] = {
            "metrics": table,
            "scores": res.scores(),
            "anchors": res.bounds,
            "distances": res.distances,
        }
    return out
