"""`onestep prepare` (commands/prepare.py): real video files encoded by tiny Wan folders into a latent cache
that `CacheData` reads, equal to the pipelines' own encodings, with bad files skipped and a resumable run."""

import json
import os

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from onestep.commands import prepare
from onestep.data.cache import CacheData, read_manifest
from onestep.errors import UserError
from onestep.models import wan, wan_tiny
from onestep.models.wan_pipeline import Encoders

FPS = 8  # the test videos' frame rate: 12 frames, 1.5 s
SETTINGS = {"frames": 5, "fps": 4, "size": "32x48"}  # frames 0, 2, 4, 6, 8 of each video; latents (2, 4, 6)
LATENT = (2, 4, 6)
GOOD = {
    "a.mp4": "a red car drives slowly",
    "b.mov": "a blue bird flies over the sea",
    "d.gif": "a person turns and says there is no time for that",
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)


def frame(i: int, h: int = 40, w: int = 56) -> np.ndarray:
    """Frame i: red 20 i everywhere (the sampling test reads it back), a green bar moving right."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 20 * i
    img[:, (4 * i) % w :, 1] = 200
    return img


def write_video(path, n: int = 12, codec: str = "libx264") -> None:
    if path.suffix == ".gif":
        images = [Image.fromarray(frame(i)) for i in range(n)]
        images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // FPS, loop=0)
        return
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 56, 40, "yuv420p"
        for i in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """3 good captioned videos (h264 .mp4, mpeg4 .mov, and a real clip a package ships: scikit-image's
    no_time_for_that_tiny.gif, 24 frames at 14 fps), and a truncated one, random bytes, a short one,
    one without caption."""
    import shutil

    import skimage

    root = tmp_path_factory.mktemp("videos")
    for name, text in GOOD.items():
        if name == "d.gif":
            shutil.copy(
                os.path.join(os.path.dirname(skimage.__file__), "data", "no_time_for_that_tiny.gif"), root / name
            )
        else:
            write_video(root / name, codec="mpeg4" if name.endswith(".mov") else "libx264")
        (root / name).with_suffix(".txt").write_text(f"  {text}\n")
    write_video(root / "trunc.mp4")
    data = (root / "trunc.mp4").read_bytes()
    (root / "trunc.mp4").write_bytes(data[: len(data) // 2])
    (root / "bad.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    write_video(root / "short.mp4", n=4)  # 0.5 s: 5 frames at 4 fps need 1 s
    write_video(root / "nocap.mp4")
    for name in ("trunc", "bad", "short"):
        (root / f"{name}.txt").write_text("a cat")
    return root


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp("wan")
    return {i2v: wan_tiny.build(root / ("i2v" if i2v else "t2v"), i2v=i2v) for i2v in (False, True)}


def test_frames_sampled_at_fps(videos):
    clip = prepare.read_clip(videos / "a.mp4", frames=5, fps=4, height=40, width=56)
    assert clip.shape == (5, 40, 56, 3) and clip.dtype == np.uint8
    np.testing.assert_allclose(
        clip[..., 0].reshape(5, -1).mean(1), [0, 40, 80, 120, 160], atol=12
    )  # video frames 0, 2, 4, 6, 8 (lossy codec)
    assert prepare.read_clip(videos / "d.gif", frames=5, fps=4, height=32, width=48).shape == (5, 32, 48, 3)
    with pytest.raises(prepare.Skip, match="too short"):
        prepare.read_clip(videos / "a.mp4", frames=13, fps=8, height=40, width=56)


@pytest.mark.parametrize("i2v", [False, True], ids=["t2v", "i2v"])
def test_prepare_caches_clips_as_the_pipeline_encodes(videos, teachers, tmp_path, i2v):
    from diffusers import AutoencoderKLWan, WanImageToVideoPipeline, WanPipeline

    teacher, cache = teachers[i2v], tmp_path / "cache"
    result = prepare.run(
        videos=videos, teacher=teacher, out=cache, shard_size=2, progress=False, say=lambda _: None, **SETTINGS
    )
    assert (result["cached"], result["skipped"], result["total"]) == (3, 4, 3)
    manifest = read_manifest(cache)
    assert [c["source"] for s in manifest["shards"] for c in s["clips"]] == sorted(GOOD)
    assert [c["prompt"] for s in manifest["shards"] for c in s["clips"]] == [GOOD[k] for k in sorted(GOOD)]
    assert manifest["latent_size"] == list(LATENT) and manifest["teacher"] == {
        "hash": wan.weights_hash(teacher),
        "i2v": i2v,
    }
    skipped = dict(line.split(": ", 1) for line in (cache / "skipped.txt").read_text().splitlines())
    assert sorted(skipped) == ["bad.mp4", "nocap.mp4", "short.mp4", "trunc.mp4"]  # the .txt captions are not videos
    assert (
        "cannot decode" in skipped["bad.mp4"]
        and "too short" in skipped["short.mp4"]
        and "no caption" in skipped["nocap.mp4"]
    )
    assert skipped["trunc.mp4"]

    # CacheData reads it for the model built at this latent size
    data = CacheData(cache, seed=0, batch_size=2, spec=wan.load_wan(teacher, LATENT).spec)
    batch = data.batch(0)
    assert len(data) == 3 and batch.video.shape == (2, 16, *LATENT)
    assert batch.cond.text.shape == (
        2,
        wan.TEXT_LEN,
        wan_tiny.TEXT_ENCODER["d_model"],
    ) and batch.cond.text_mask.shape == (2, wan.TEXT_LEN)
    assert torch.isfinite(batch.video).all() and torch.isfinite(batch.cond.text).all()
    if i2v:
        assert batch.cond.latent.shape == (2, 16, *LATENT) and batch.cond.image_tokens.shape == (
            2,
            5,
            wan_tiny.IMAGE_ENCODER["hidden_size"],
        )
        assert torch.isfinite(batch.cond.latent).all() and torch.isfinite(batch.cond.image_tokens).all()

    # clip a.mp4 (the first shard's first) against an independent encoding: the VAE's mean, (z - mean) / std
    shard = load_file(str(cache / "shard_00000.safetensors"))
    frames = prepare.read_clip(videos / "a.mp4", frames=5, fps=4, height=32, width=48)
    vae = AutoencoderKLWan.from_pretrained(teacher / "vae").eval()
    mean, std = (torch.tensor(v).view(1, 16, 1, 1, 1) for v in (vae.config.latents_mean, vae.config.latents_std))
    x = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0
    with torch.no_grad():
        z = (vae.encode(x).latent_dist.mean - mean) / std
        torch.testing.assert_close(
            shard["latent"][:1], z, atol=1e-5, rtol=1e-5
        )  # 1/std vs / std and x / 127.5 - 1: float rounding only

        # the text states are encode_prompt's (max_sequence_length 512), the mask its real tokens
        pipe = (WanImageToVideoPipeline if i2v else WanPipeline).from_pretrained(teacher)
        states, _ = pipe.encode_prompt(
            GOOD["a.mp4"], do_classifier_free_guidance=False, max_sequence_length=wan.TEXT_LEN
        )
        torch.testing.assert_close(shard["text"][:1], states, atol=1e-6, rtol=0)
        n_tokens = len(pipe.tokenizer(GOOD["a.mp4"]).input_ids)
        assert shard["text_mask"][0].sum() == n_tokens and shard["text_mask"][0, :n_tokens].all()
        assert (shard["text"][0, n_tokens:] == 0).all()
        negative = load_file(str(cache / "negative.safetensors"))
        torch.testing.assert_close(
            negative["text"],
            pipe.encode_prompt("", do_classifier_free_guidance=False, max_sequence_length=wan.TEXT_LEN)[0],
            atol=1e-6,
            rtol=0,
        )
        assert manifest["negative"] == ""

        if i2v:  # the first frame's CLIP tokens, and the first frame followed by zero pixels, encoded
            torch.testing.assert_close(
                shard["image_tokens"][:1], pipe.encode_image(Image.fromarray(frames[0])), atol=1e-6, rtol=0
            )
            cond = torch.cat([x[:, :, :1], torch.zeros_like(x[:, :, 1:])], 2)
            torch.testing.assert_close(
                shard["cond_latent"][:1], (vae.encode(cond).latent_dist.mean - mean) / std, atol=1e-5, rtol=1e-5
            )


def test_resume_keeps_finished_shards(videos, teachers, tmp_path):
    from typer.testing import CliRunner

    from onestep.cli import app

    cache, quiet = tmp_path / "cache", {"progress": False, "say": lambda _: None}
    first = prepare.run(
        videos=videos, teacher=teachers[False], out=cache, shard_size=2, max_clips=2, **quiet, **SETTINGS
    )
    assert first["cached"] == 2 and len(read_manifest(cache)["shards"]) == 1  # stopped after the first shard (a, b)
    shard0 = cache / "shard_00000.safetensors"
    before = (shard0.read_bytes(), os.stat(shard0).st_mtime_ns)

    rest = prepare.run(videos=videos, teacher=teachers[False], out=cache, shard_size=2, **quiet, **SETTINGS)
    assert (rest["cached"], rest["skipped"], rest["total"]) == (1, 4, 3)
    assert (shard0.read_bytes(), os.stat(shard0).st_mtime_ns) == before
    sources = [c["source"] for s in read_manifest(cache)["shards"] for c in s["clips"]]
    assert sources == sorted(GOOD)  # each once
    lines = (cache / "skipped.txt").read_text().splitlines()
    assert len(lines) == len(set(lines)) == 4

    # a third run through the CLI finds nothing left to do
    args = [
        "prepare",
        "--videos",
        str(videos),
        "--teacher",
        str(teachers[False]),
        "--out",
        str(cache),
        "--frames",
        "5",
        "--fps",
        "4",
        "--size",
        "32x48",
        "--shard-size",
        "2",
    ]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "0 clips cached, 0 skipped" in out.output and "holds 3 clips" in out.output
    assert json.loads((cache / "manifest.json").read_text())["shards"] == read_manifest(cache)["shards"]


def test_mismatches_are_user_errors(videos, teachers, tmp_path):
    cache, quiet = tmp_path / "cache", {"progress": False, "say": lambda _: None}
    prepare.run(videos=videos, teacher=teachers[False], out=cache, max_clips=1, **quiet, **SETTINGS)
    other = wan_tiny.build(tmp_path / "other", seed=1)
    with pytest.raises(UserError, match="another teacher"):
        prepare.run(videos=videos, teacher=other, out=cache, **quiet, **SETTINGS)
    with pytest.raises(UserError, match="other settings: fps 4.0 \\(this run 8.0\\)"):
        prepare.run(videos=videos, teacher=teachers[False], out=cache, **quiet, **{**SETTINGS, "fps": 8})
    with pytest.raises(UserError, match="4k \\+ 1.*--frames 9 or 13"):
        prepare.run(videos=videos, teacher=teachers[False], out=tmp_path / "new", **quiet, **{**SETTINGS, "frames": 10})
    with pytest.raises(UserError, match="divisible by 16.*--size 32x48"):
        prepare.run(
            videos=videos, teacher=teachers[False], out=tmp_path / "new", **quiet, **{**SETTINGS, "size": "40x56"}
        )
    with pytest.raises(UserError, match="not a Wan diffusers folder"):
        prepare.run(videos=videos, teacher=videos, out=tmp_path / "new", **quiet, **SETTINGS)
    assert not (tmp_path / "new").exists()


def test_a_crash_mid_shard_loses_only_that_shard(videos, teachers, tmp_path, monkeypatch):
    """A run that dies while encoding its second shard (an exception from the encoder, as a kill would
    stop it) leaves the first shard listed and intact; the next run encodes only the rest."""
    cache, quiet = tmp_path / "cache", {"progress": False, "say": lambda _: None}
    encode, calls = Encoders.clip, []

    def dying(self, frames, prompt):
        calls.append(prompt)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return encode(self, frames, prompt)

    monkeypatch.setattr(Encoders, "clip", dying)
    with pytest.raises(KeyboardInterrupt):
        prepare.run(videos=videos, teacher=teachers[True], out=cache, shard_size=2, **quiet, **SETTINGS)
    assert [c["source"] for s in read_manifest(cache)["shards"] for c in s["clips"]] == ["a.mp4", "b.mov"]
    shard0 = (cache / "shard_00000.safetensors").read_bytes()
    monkeypatch.setattr(Encoders, "clip", encode)
    rest = prepare.run(videos=videos, teacher=teachers[True], out=cache, shard_size=2, **quiet, **SETTINGS)
    assert rest["cached"] == 1 and rest["total"] == 3 and (cache / "shard_00000.safetensors").read_bytes() == shard0
    assert not list(cache.glob("*.partial"))


def test_captions_from_a_metadata_file_and_a_cache_left_empty(videos, teachers, tmp_path):
    """A folder captioned only by Hugging Face's metadata.csv (or .jsonl) caches every good clip; one
    where nothing can be cached exits with one line naming skipped.txt."""
    import json
    import shutil

    for kind in ("csv", "jsonl"):
        folder = tmp_path / f"hf-{kind}"
        folder.mkdir()
        for name in GOOD:
            shutil.copy(videos / name, folder / name)
        if kind == "csv":
            (folder / "metadata.csv").write_text(
                "file_name,text\n" + "".join(f'{name},"{text}, quoted"\n' for name, text in GOOD.items())
            )
        else:
            (folder / "metadata.jsonl").write_text(
                "".join(json.dumps({"file_name": name, "caption": text}) + "\n" for name, text in GOOD.items())
            )
        result = prepare.run(
            videos=folder,
            teacher=teachers[False],
            out=tmp_path / f"cache-{kind}",
            progress=False,
            say=lambda _: None,
            **SETTINGS,
        )
        assert (result["cached"], result["skipped"]) == (len(GOOD), 0), kind
        prompts = [c["prompt"] for s in read_manifest(tmp_path / f"cache-{kind}")["shards"] for c in s["clips"]]
        assert prompts == [f"{GOOD[k]}, quoted" if kind == "csv" else GOOD[k] for k in sorted(GOOD)]
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(videos / "a.mp4", bare / "a.mp4")
    with pytest.raises(UserError, match="no clip was cached: all 1 videos were skipped"):
        prepare.run(
            videos=bare, teacher=teachers[False], out=tmp_path / "empty", progress=False, say=lambda _: None, **SETTINGS
        )
    assert "no caption" in (tmp_path / "empty" / "skipped.txt").read_text()
    (bare / "metadata.csv").write_text("name,words\na.mp4,a cat\n")
    with pytest.raises(UserError, match="needs a file_name column"):
        prepare.run(
            videos=bare,
            teacher=teachers[False],
            out=tmp_path / "empty2",
            progress=False,
            say=lambda _: None,
            **SETTINGS,
        )
