"""`onestep eval`: the evaluation suite on held-out world clips, the user's photos or conditions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from onestep import paths
from onestep.commands.sample import sampler_for
from onestep.errors import UserError
from onestep.eval import aggregate, shipped, suite
from onestep.eval import stream as stream_eval
from onestep.files import write_json
from onestep.media import read_image
from onestep.world.clip import WorldConfig

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def load_photos(directory: Path) -> dict[str, np.ndarray]:
    """The user's photos, full size, for the photocam benchmark (each must be readable)."""
    import cv2

    if not directory.is_dir():
        raise UserError(f"--photos {directory} is not a directory: pass a folder of PNG or JPEG photos")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"--photos {directory} holds no PNG/JPEG/BMP/WebP/TIFF photos: add some or pass another folder")
    photos = {}
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise UserError(f"cannot read {f} as an image: remove it from {directory} or re-save it as PNG/JPEG")
        if min(img.shape[:2]) < 96:
            raise UserError(
                f"{f.name} is {img.shape[1]}x{img.shape[0]}: photocam needs photos of at least 96 px on the short side"
            )
        photos[f.name] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return photos


def load_conditions(path: Path, size: tuple[int, int]) -> list[tuple[str, np.ndarray | None]]:
    """(prompt, first frame or None) per line of a JSONL file: {"prompt": ..., "image": "path"}."""
    if not path.is_file():
        raise UserError(f'--conditions {path} does not exist: pass a JSONL file with one {{"prompt": ...}} per line')
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{i} is not JSON ({e.msg}): write one JSON object per line") from e
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise UserError(
                f'{path}:{i} has no "prompt" string: every line needs {{"prompt": "..."}} (and optionally "image")'
            )
        image = None
        if item.get("image"):
            img_path = Path(item["image"])
            image, _ = read_image(img_path if img_path.is_absolute() else path.parent / img_path, size)
        out.append((item["prompt"], image))
    if not out:
        raise UserError(f'{path} holds no conditions: write one {{"prompt": ...}} per line')
    return out


def dit_videos(model, encoder, spec, config: WorldConfig, seed: int):
    """conditions -> videos (N, F, H, W, 3) of the built-in DiT, in batches."""
    import torch

    from onestep.eval.sample import generate

    def make(conditions):
        images = [c[1] for c in conditions]
        first = (
            torch.stack([torch.from_numpy(i).permute(2, 0, 1) * 2 - 1 for i in images])
            if all(i is not None for i in images)
            else None
        )
        return generate(
            model,
            encoder,
            [c[0] for c in conditions],
            first,
            spec,
            seed=seed,
            shape=(3, config.frames, config.size, config.size),
        )

    return make


def evaluate_conditions(make, conditions, spec) -> dict:
    """The user's own prompts and images: only the metrics that need no ground truth.
    make(conditions) -> videos (N, F, H, W, 3) in [0, 1]."""
    t0 = time.perf_counter()
    videos = make(conditions)
    seconds = (time.perf_counter() - t0) / len(videos)
    rows = []
    for video, (_, image) in zip(videos, conditions):
        row = aggregate.proxies.proxies(video)
        if image is not None:
            row.update(aggregate.image_similarity(video, image))
            row["first_frame_psnr"] = float(10 * np.log10(1 / max(float(((video[0] - image) ** 2).mean()), 1e-10)))
        rows.append(row)
    keys = sorted({k for r in rows for k in r})
    return {
        "nfe": spec.nfe,
        "n": len(rows),
        "seconds_per_video": seconds,
        "conditions": {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys},
    }, videos


EXTERNAL = "external"  # --photos external: world/photos.EXTERNAL


def photo_library(photos: Path | str | None) -> dict[str, np.ndarray] | None:
    """--photos: None (the world's held-out photos), "external" (photos from other packages that
    training never sees, world/photos.EXTERNAL) or a folder of the user's own."""
    if photos is None:
        return None
    if str(photos) == EXTERNAL and not Path(photos).is_dir():
        from onestep.world import photos as world_photos

        return world_photos.external()
    return load_photos(Path(photos))


def shipped_key(
    model_dir: Path,
    config: dict,
    spec,
    *,
    tracks: list[str],
    n: int,
    seed: int,
    prompts: str = "template",
    photos: Path | str | None = None,
    featnet: Path | None = None,
) -> dict:
    """The key of this evaluation (eval/shipped.py): a shipped one with the same key is its result."""
    from onestep.models.io import weights_hash

    model = config["model"]
    return shipped.key(
        weights_hash(model_dir),
        sampler=spec.described(),
        tracks=tracks,
        n=n,
        seed=seed,
        prompts=prompts,
        photos=None if photos is None else EXTERNAL,
        world={"frames": model["frames"], "size": model["height"]},
        max_text=config.get("max_text", 32),
        featnet=weights_hash(featnet or paths.FEATNET),
    )


def untrained_tracks(config: dict, tracks: list[str]) -> list[str]:
    """The tracks asking for a condition the model's run never trained on (its config's `conditions`;
    a student without one was distilled on first-frame batches only, a teacher trained on both)."""
    trained = config.get("conditions", ["i2v"] if config.get("role") == "student" else ["i2v", "t2v"])
    return [t for t in tracks if ("i2v" if suite.i2v(t) else "t2v") not in trained]


def check_request(tracks: list[str], prompts: str, conditions: Path | None, n: int, out: Path) -> None:
    """A one-line UserError for a request no mode can serve."""
    for t in tracks:
        if t not in suite.TRACKS:
            raise UserError(f"unknown track {t!r}: use {', '.join(suite.TRACKS)} or all")
    if prompts not in suite.PROMPTS:
        raise UserError(
            f"unknown --prompts {prompts!r}: use template (the training grammar) or paraphrase (held-out phrasings)"
        )
    if prompts != "template" and conditions is not None:
        raise UserError(
            "--prompts paraphrase rewords the held-out clips' prompts: drop --conditions, whose prompts are your own"
        )
    if n < 2:
        raise UserError(f"--n {n} is too few clips for intervals: pass --n 2 or more")
    if Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"--out {out} is a file: pass a folder for the evaluation")


def run(
    *,
    model_dir: Path,
    nfe: int | None,
    tracks: list[str],
    n: int,
    photos: Path | str | None,
    conditions: Path | None,
    out: Path,
    seed: int,
    featnet: Path | None,
    progress=None,
    prompts: str = "template",
    fresh: bool = False,
    say=None,
    name: str | None = None,
    first_block_steps: int | None = None,
    stream: int | None = None,
    window: int | None = None,
    sink: int = 0,
) -> dict:
    """Evaluate `model_dir` into `out`, in one of five modes, each its own function: a codec kind's
    videos of `--conditions` (evaluate_codec), a causal student's stream (`stream`: that many times
    the training length, each segment scored, evaluate_stream), the user's conditions
    (evaluate_user_conditions), or the suite's tracks (evaluate_suite), whose evaluation shipped with
    the model is copied instead when its key equals this one's (eval/shipped.py) unless `fresh`.
    `name`: the run's name in a report."""
    import torch

    from onestep.commands.featnet import load as load_featnet
    from onestep.models.io import load_model
    from onestep.models.kinds import kind_of
    from onestep.models.text import TextEncoder

    check_request(tracks, prompts, conditions, n, out)  # every input before anything is generated
    kind = kind_of(model_dir)
    if kind.data != "world":  # the suite's tracks are the world's clips
        return evaluate_codec(model_dir, kind, nfe, conditions, out, seed, name)
    model, config = load_model(model_dir)
    spec = sampler_for(config, nfe, None, None, first_block_steps)
    if stream is not None:
        window = stream_eval.check(model, spec, stream, window, sink)
        if conditions is not None or prompts != "template":
            raise UserError("--stream scores the held-out clips' segments: drop --conditions and --prompts")
    untrained = untrained_tracks(config, tracks)
    if untrained and say:
        say(
            f"note: {model_dir} never trained text-to-video (its run gave every clip its first frame): its "
            f"{', '.join(untrained)} numbers measure a condition it never saw"
        )
    _, frames, height, width = model.spec.video_shape
    wc = WorldConfig(frames=frames, size=height)
    user_photos = photo_library(photos)
    user_conditions = load_conditions(conditions, (height, width)) if conditions is not None else None
    net = None if user_conditions is not None else load_featnet(featnet or paths.FEATNET)
    out.mkdir(parents=True, exist_ok=True)
    key = None
    if (
        stream is None and user_conditions is None and (photos is None or str(photos) == EXTERNAL)
    ):  # the user's own photos are never shipped
        key = shipped_key(
            model_dir, config, spec, tracks=tracks, n=n, seed=seed, prompts=prompts, photos=photos, featnet=featnet
        )
        found = None if fresh else shipped.find(model_dir, key)
        if found is not None:
            if say:
                say(f"using the evaluation shipped in {found} (same weights, settings and code; --fresh recomputes it)")
            return shipped.use(found, out, model=str(model_dir), **({"name": name} if name else {}))
    torch.set_num_threads(max(1, torch.get_num_threads()))
    encoder = TextEncoder.of(config)
    if stream is not None:
        return evaluate_stream(
            model,
            encoder,
            spec,
            tracks=tracks,
            n=n,
            length=stream,
            window=window,
            sink=sink,
            config=wc,
            featnet=net,
            photos=user_photos,
            out=out,
            seed=seed,
            progress=progress,
            meta={"model": str(model_dir), "role": config.get("role", "unknown"), **({"name": name} if name else {})},
        )

    if user_conditions is not None:
        metrics = evaluate_user_conditions(model, encoder, spec, wc, seed, user_conditions, out)
    else:
        metrics = evaluate_suite(model, encoder, spec, wc, tracks, n, seed, net, user_photos, prompts, out, progress)
    metrics["model"] = str(model_dir)
    if name:
        metrics["name"] = name
    metrics["role"] = config.get("role", "unknown")
    metrics["untrained_tracks"] = untrained
    metrics["seed"] = seed
    if user_conditions is None:
        metrics["prompts"] = prompts
    if photos is not None:
        metrics["photos"] = str(photos)
    write_json(out / "metrics.json", metrics)
    if key is not None:
        write_json(out / "key.json", key)
    return metrics


def evaluate_user_conditions(model, encoder, spec, config: WorldConfig, seed: int, conditions, out: Path) -> dict:
    """`--conditions`: the model's videos of the user's prompts (and first frames), scored without ground
    truth; the videos into out/videos-conditions.npz."""
    metrics, videos = evaluate_conditions(dit_videos(model, encoder, spec, config, seed), conditions, spec)
    np.savez_compressed(out / "videos-conditions.npz", videos=(videos * 255).round().astype(np.uint8))
    return metrics


def evaluate_suite(model, encoder, spec, config: WorldConfig, tracks, n, seed, featnet, photos, prompts, out, progress):
    """The suite's held-out tracks (eval/suite.py): each track's videos into out/videos-TRACK.npz, the
    metrics with bootstrap intervals over all of them."""
    results = {}
    for track in tracks:
        results[track] = suite.evaluate_track(
            model,
            encoder,
            track,
            n,
            spec,
            config=config,
            featnet=featnet,
            photos=photos,
            cache_dir=paths.CACHE,
            shipped_dir=paths.EVALS,
            seed=seed,
            progress=progress,
            prompts=prompts,
        )
        np.savez_compressed(out / f"videos-{track}.npz", videos=(results[track].videos * 255).round().astype(np.uint8))
    return suite.summarise(results, spec, n, seed)


def evaluate_stream(
    model,
    encoder,
    spec,
    *,
    tracks,
    n,
    length,
    window,
    sink,
    config,
    featnet,
    photos,
    out: Path,
    seed,
    progress,
    meta: dict,
) -> dict:
    """Streams `length` times the training length per held-out clip, scored per segment, and the
    batch-1 time to first frame and frames per second: out/stream.json and out/videos-stream-TRACK.npz."""
    result = {
        "kind": "stream",
        **meta,
        "sampler": spec.described(),
        "label": spec.label,
        "n": n,
        "seed": seed,
        "length": length,
        "frames": length * config.frames,
        "window": window,
        "sink": sink,
        "tracks": {},
    }
    for track in [t for t in tracks if suite.i2v(t)]:  # a stream continues its given first frame
        clips = suite.heldout_clips(track, n, config, photos)
        videos = stream_eval.stream_clips(
            model, encoder, clips, spec, length, window=window, sink=sink, seed=seed, progress=progress
        )
        bounds = suite.cached_anchors(track, config, photos, paths.CACHE, paths.EVALS)
        result["tracks"][track] = stream_eval.score_segments(videos, clips, bounds, featnet, length, seed)
        np.savez_compressed(
            out / f"videos-stream-{track}.npz", videos=(videos[: shipped.KEEP_VIDEOS] * 255).round().astype(np.uint8)
        )
    result.update(stream_eval.latency(model, encoder, spec, length * config.frames, window=window, sink=sink))
    write_json(out / "stream.json", result)
    return result


def evaluate_codec(
    model_dir: Path, kind, nfe: int | None, conditions: Path | None, out: Path, seed: int, name: str | None
) -> dict:
    """A folder of a kind that trains on a latent cache (Wan) on the user's own conditions
    (`--conditions`): the metrics that need no ground truth, on videos sampled as `onestep sample`
    samples them (its own encoders and VAE, at the export's size or the codec's default, 81 x 480x832
    for Wan). The embedded world's tracks are 32 x 32 clips of that world: not for such a model."""
    from onestep.commands.sample import CodecSampler

    if conditions is None:
        raise UserError(
            f"{model_dir} is a {kind.title} model, and the suite's tracks are the embedded world's 32x32 clips: "
            "evaluate it on your own prompts and first frames with --conditions FILE.jsonl"
        )
    config = kind.read_config(Path(model_dir))
    spec = sampler_for(config, nfe, None, None)
    sampler = CodecSampler(model_dir, kind, config)
    user_conditions = load_conditions(conditions, (sampler.height, sampler.width))
    make = lambda conds: np.stack([sampler(prompt, image, spec, seed, i) for i, (prompt, image) in enumerate(conds)])  # noqa: E731
    out.mkdir(parents=True, exist_ok=True)
    metrics, videos = evaluate_conditions(make, user_conditions, spec)
    np.savez_compressed(out / "videos-conditions.npz", videos=(videos * 255).round().astype(np.uint8))
    metrics |= {"model": str(model_dir), "role": config.get("role", "teacher"), "seed": seed} | (
        {"name": name} if name else {}
    )
    write_json(out / "metrics.json", metrics)
    return metrics
