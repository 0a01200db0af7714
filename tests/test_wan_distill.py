"""Wan in and out: `pose-wan-tiny` distils a tiny random Wan (T2V and I2V) on a latent cache, the run
is exported as a diffusers folder, and diffusers' own pipeline loaded from it makes, in one step, the
latent video onestep's one-step sampler makes from the same noise and condition."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from onestep import samplers
from onestep.commands import distill, export
from onestep.errors import UserError
from onestep.models import wan_tiny
from onestep.models.io import load_model, weights_hash
from onestep.types import Cond
from tests.test_cache import write_cache

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


def distilled(root, i2v: bool, overrides=()):
    """(teacher folder, run folder, cache): two steps of each POSE phase on a 5-clip cache."""
    teacher = wan_tiny.build(root / "wan", i2v=i2v)
    cache = write_cache(
        root / "cache",
        i2v=i2v,
        teacher_hash=weights_hash(teacher),
        text_dim=wan_tiny.TEXT_ENCODER["d_model"],
        image_dim=wan_tiny.IMAGE_ENCODER["hidden_size"],
    )
    distill.run(
        preset="pose-wan-tiny", teacher=teacher, data=cache, out=root / "run", overrides=list(overrides), progress=False
    )
    return teacher, root / "run", cache


@pytest.fixture(scope="module", params=["t2v", "i2v"])
def wan_run(request, tmp_path_factory):
    return distilled(tmp_path_factory.mktemp(request.param), request.param == "i2v")


def t2v_inputs(width: int):
    torch.manual_seed(0)
    noise, text = torch.randn(1, 16, 3, 4, 4), torch.randn(1, 7, width)
    return noise, text, torch.cat([text, torch.zeros(1, 512 - 7, width)], 1)


def test_the_run_trains_on_the_cache_and_writes_a_wan_student(wan_run):
    teacher, run, _ = wan_run
    student, config = load_model(run / "student")
    assert (
        config["kind"] == "wan"
        and config["sampling"] == {"kind": "renoise", "steps": 1, "shift": 3.0}
        and config["latent_size"] == [3, 4, 4]
    )
    original, _ = load_model(teacher, latent_size=(3, 4, 4))
    moved = [k for k, v in student.state_dict().items() if not torch.equal(v, original.state_dict()[k])]
    assert moved, "the student did not move from the teacher"
    assert json.loads((run / "config.json").read_text())["data"]["cache"]


def test_the_diffusers_export_makes_the_students_one_step_video(wan_run, tmp_path):
    from diffusers import WanImageToVideoPipeline, WanPipeline

    teacher, run, cache = wan_run
    folder = export.run(run_dir=run, out=tmp_path / "export")
    student, config = load_model(folder)  # an export is a model folder like any other
    i2v = config["i2v"]
    pipe = (WanImageToVideoPipeline if i2v else WanPipeline).from_pretrained(folder).to("cpu")
    torch.manual_seed(0)
    noise, text, mask = (
        torch.randn(1, 16, 3, 4, 4),
        torch.randn(1, 7, wan_tiny.TEXT_ENCODER["d_model"]),
        torch.ones(1, 7, dtype=torch.bool),
    )
    cond, kwargs = Cond(text, mask), {}
    if i2v:
        image = Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8))
        pixels = pipe.video_processor.preprocess(image, height=32, width=32)
        _, condition = pipe.prepare_latents(
            pixels, 1, 16, 32, 32, 9, torch.float32, torch.device("cpu"), None, noise.clone()
        )
        with torch.no_grad():
            cond = Cond(text, mask, condition[:, 4:], image_tokens=pipe.encode_image(image, torch.device("cpu")))
        assert torch.equal(
            condition[:, :4], student.condition_channels(noise, cond)[:, :4]
        )  # the mask as Wan's pipeline builds it
        kwargs = {"image": image}
    ours = samplers.renoise(student, noise, cond, times=samplers.student_times(1))
    padded = torch.cat([text, torch.zeros(1, 512 - 7, text.shape[-1])], 1)
    theirs = pipe(
        prompt_embeds=padded,
        guidance_scale=1.0,
        num_inference_steps=1,
        height=32,
        width=32,
        num_frames=9,
        latents=noise.clone(),
        output_type="latent",
        **kwargs,
    ).frames
    torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-4)


def test_export_never_replaces_the_run_its_teacher_or_a_foreign_folder(wan_run, tmp_path):
    teacher, run, _ = wan_run
    before = {p: p.read_bytes() for p in [*run.rglob("*"), *teacher.rglob("*")] if p.is_file()}
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = [
        (run, "holds the run "), (teacher, "holds the run's teacher"), (run.parent, "holds the run "),
        (teacher / "transformer", "inside the run's teacher"), (run / "student", "not an earlier export"),
        (foreign, "not an earlier export"),
        (foreign / "notes.txt", "is a file"),
    ]  # fmt: skip
    for out, words in refused:
        with pytest.raises(UserError, match=words):
            export.run(run_dir=run, out=out)
    assert (foreign / "notes.txt").read_text() == "mine"
    assert all(p.read_bytes() == data for p, data in before.items()) and not list(run.parent.glob("*.partial"))
    folder = export.run(run_dir=run, out=tmp_path / "export")
    assert export.run(run_dir=run, out=folder) == folder  # an earlier export of the same run is replaced
    (tmp_path / "empty").mkdir()
    assert (export.run(run_dir=run, out=tmp_path / "empty") / "model_index.json").is_file()


def test_onestep_sample_of_the_export_is_the_pipelines_one_step_video(wan_run, tmp_path):
    """`onestep sample --nfe 1` on the export (its own encoders, the adapter, its VAE) against diffusers'
    pipeline loaded from the same folder, prompt, first frame and noise: the decoded frames agree."""
    from diffusers import WanImageToVideoPipeline, WanPipeline
    from typer.testing import CliRunner

    from onestep.cli import app
    from onestep.commands.sample import codec_video, sampler_for
    from onestep.eval.sample import clip_noise
    from onestep.models.io import read_config
    from onestep.models.kinds import KINDS

    _, run, _ = wan_run
    folder = export.run(run_dir=run, out=tmp_path / "export")
    config = read_config(folder)
    image, kwargs = None, {}
    if config["i2v"]:
        image = tmp_path / "first.png"
        Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)).save(image)
        kwargs = {"image": Image.open(image).convert("RGB")}
    ours, shape = codec_video(
        folder, KINDS["wan"], config, "a red ball rolls left", image, sampler_for(config, 1, None, None), 0, None, None
    )
    pipe = (WanImageToVideoPipeline if config["i2v"] else WanPipeline).from_pretrained(folder).to("cpu")
    noise = clip_noise(0, 0, (16, 3, 4, 4))[None]
    theirs = pipe(
        prompt="a red ball rolls left",
        guidance_scale=1.0,
        num_inference_steps=1,
        height=32,
        width=32,
        num_frames=9,
        latents=noise,
        output_type="np",
        **kwargs,
    ).frames[0]
    assert shape == (9, 32, 32) and ours.shape == theirs.shape == (9, 32, 32, 3)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    args = [
        "sample",
        "--model",
        str(folder),
        "--prompt",
        "a red ball rolls left",
        "--nfe",
        "1",
        "--out",
        str(tmp_path / "v.gif"),
    ] + (["--image", str(image)] if image else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and (tmp_path / "v.gif").stat().st_size > 0, result.output
    result = CliRunner().invoke(
        app, ["sample", "--model", str(run / "student"), "--prompt", "x", "--out", str(tmp_path / "w.gif")]
    )
    assert isinstance(result.exception, UserError) and "without its VAE" in str(result.exception)


def test_a_lora_student_exports_merged_and_as_a_lora_diffusers_loads(tmp_path):
    """`model.student_lora_rank`: only the adapter trains; the run's student is the adapter merged into
    the teacher's weights, and `--format lora` loaded into the teacher's pipeline makes the same video."""
    from diffusers import WanPipeline

    teacher, run, _ = distilled(tmp_path, False, ["--set", "model.student_lora_rank=4"][1:])
    student, _ = load_model(run / "student")
    original, _ = load_model(teacher, latent_size=(3, 4, 4))
    assert any(not torch.equal(v, original.state_dict()[k]) for k, v in student.state_dict().items()), (
        "the adapter did not move"
    )
    noise, text, padded = t2v_inputs(wan_tiny.TEXT_ENCODER["d_model"])
    ours = samplers.renoise(student, noise, Cond(text, torch.ones(1, 7, dtype=torch.bool)), times=[1.0])
    common = dict(
        prompt_embeds=padded,
        guidance_scale=1.0,
        num_inference_steps=1,
        height=32,
        width=32,
        num_frames=9,
        output_type="latent",
    )
    merged = WanPipeline.from_pretrained(export.run(run_dir=run, out=tmp_path / "full")).to("cpu")
    torch.testing.assert_close(merged(latents=noise.clone(), **common).frames, ours, rtol=1e-4, atol=1e-4)
    pipe = WanPipeline.from_pretrained(teacher).to("cpu")
    pipe.load_lora_weights(export.run(run_dir=run, out=tmp_path / "lora", format="lora"))
    torch.testing.assert_close(pipe(latents=noise.clone(), **common).frames, ours, rtol=1e-4, atol=1e-4)


def test_wrong_teacher_or_data_is_one_line_with_the_fix(wan_run, tmp_path):
    teacher, run, cache = wan_run
    other = wan_tiny.build(
        tmp_path / "other",
        seed=1,
        i2v=json.loads((teacher / "transformer" / "config.json").read_text())["in_channels"] == 36,
    )
    with pytest.raises(UserError, match="prepared with another teacher"):
        distill.run(
            preset="pose-wan-tiny", teacher=other, data=cache, out=tmp_path / "r1", overrides=[], progress=False
        )
    with pytest.raises(UserError, match="trains on a latent cache"):
        distill.run(preset="pose-wan-tiny", teacher=teacher, out=tmp_path / "r2", overrides=[], progress=False)
    wrong = (
        "pose-wan-t2v-1.3b"
        if json.loads((run / "student" / "config.json").read_text())["in_channels"] == 36
        else "pose-wan-i2v-14b"
    )
    with pytest.raises(UserError, match="this preset is for"):
        distill.run(preset=wrong, teacher=teacher, data=cache, out=tmp_path / "r4", overrides=[], progress=False)
    with pytest.raises(UserError, match="trained its student in full"):
        export.run(run_dir=run, out=tmp_path / "lora", format="lora")
    with pytest.raises(UserError, match="regresses ODE pairs"):
        distill.run(preset="pose-tiny", teacher=teacher, data=cache, out=tmp_path / "r3", overrides=[], progress=False)


def test_onestep_sampling_agrees_with_the_wan_pipelines():
    """benchmarks/wan.py at 3 steps: onestep's guided Euler through the adapter makes the latent video
    WanPipeline and WanImageToVideoPipeline make (same transformer, noise, prompt, image); its timing
    is the benchmark's business, not asserted here."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "wan.py"
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            "--steps",
            "3",
            "--rounds",
            "1",
            "--frames",
            "9",
            "--size",
            "32",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = re.findall(r"^\| (T2V|I2V) \|.*\| ([0-9.e+-]+) \(([0-9.]+)\) \|$", out, re.M)
    assert [r[0] for r in rows] == ["T2V", "I2V"], out
    assert all(float(diff) < 1e-4 * max(1.0, float(scale)) for _, diff, scale in rows), out


def test_eval_measures_a_wan_export_on_the_users_conditions(wan_run, tmp_path):
    """`onestep eval --conditions` on a Wan export: the no-ground-truth metrics of videos sampled as
    `onestep sample` samples them; without --conditions, the one-line fix."""
    from onestep.commands import eval as eval_cmd

    _, run, _ = wan_run
    folder = export.run(run_dir=run, out=tmp_path / "export")
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / "first.png")
    (tmp_path / "c.jsonl").write_text(
        '{"prompt": "a red ball rolls left", "image": "first.png"}\n{"prompt": "waves at dusk", "image": "first.png"}\n'
    )
    metrics = eval_cmd.run(
        model_dir=folder,
        nfe=1,
        tracks=["shapes"],
        n=4,
        photos=None,
        conditions=tmp_path / "c.jsonl",
        out=tmp_path / "e",
        seed=0,
        featnet=None,
    )
    assert (
        metrics["n"] == 2
        and metrics["nfe"] == 1
        and metrics["conditions"]
        and all(np.isfinite(v) for v in metrics["conditions"].values())
    )
    assert np.load(tmp_path / "e" / "videos-conditions.npz")["videos"].shape == (2, 9, 32, 32, 3)
    with pytest.raises(UserError, match="--conditions FILE.jsonl"):
        eval_cmd.run(
            model_dir=folder,
            nfe=1,
            tracks=["shapes"],
            n=4,
            photos=None,
            conditions=None,
            out=tmp_path / "f",
            seed=0,
            featnet=None,
        )


def test_the_wan_presets_precision_runs_with_a_full_and_a_lora_student(tmp_path):
    """pose-wan-i2v-14b's precision (bfloat16 frozen roles, bfloat16 autocast) on the tiny I2V model,
    with the student in full and as a LoRA: the runs finish and their students are finite."""
    for rank in (0, 4):
        teacher, run, _ = distilled(
            tmp_path / str(rank),
            True,
            ["model.dtype=bfloat16", "train.precision=bfloat16", f"model.student_lora_rank={rank}"],
        )
        student, _ = load_model(run / "student")
        assert all(torch.isfinite(v.float()).all() for v in student.state_dict().values())


def test_a_cache_read_by_chunks_trains_as_the_sliced_global_batch(tmp_path, monkeypatch):
    """With micro-batches the trainer asks the cache for this process's chunks only; the run equals one
    that reads the global batch and slices it."""
    from onestep.data import cache as latent_cache

    teacher, _, cache = distilled(tmp_path, False, ["train.accum=2"])
    monkeypatch.setattr(latent_cache.CacheData, "shard", lambda self, chunks, n_chunks: False)  # cannot shard
    distill.run(
        preset="pose-wan-tiny",
        teacher=teacher,
        data=cache,
        out=tmp_path / "sliced",
        overrides=["train.accum=2"],
        progress=False,
    )
    a, b = (load_model(r / "student")[0].state_dict() for r in (tmp_path / "run", tmp_path / "sliced"))
    assert all(torch.equal(a[k], b[k]) for k in a)
