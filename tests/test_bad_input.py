"""Bad input, one row each: the command, the input, and words its one-line error must contain. Each
exits non-zero with a UserError (the CLI prints it as one line), and every file written before it
is left as it was."""

import hashlib

import pytest
import torch
from typer.testing import CliRunner

from onestep.cli import app
from onestep.errors import UserError
from onestep.models.io import save_model
from onestep.models.video_dit import DiTConfig, VideoDiT
from tests.tiny import tiny_teacher_dir

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A teacher, a NaN-weight model and a folder of files a user already has."""
    root = tmp_path_factory.mktemp("bad")
    teacher = tiny_teacher_dir(root / "teacher")
    torch.manual_seed(0)
    nan = VideoDiT(DiTConfig(dim=32, depth=1, heads=2, patch=(2, 4, 4)))
    with torch.no_grad():
        nan.out.bias.fill_(float("nan"))
    save_model(root / "nan", nan, {"role": "student", "sampling": {"kind": "renoise", "steps": 1, "shift": 3.0}})
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("mine")
    for name, text in (("badjson", "{"), ("listjson", "[1, 2]")):
        (root / name).mkdir()
        (root / name / "config.json").write_text(text)
    import json
    import shutil

    for name, change in (("eight", {"frames": "eight"}), ("extra", {"wings": 2}), ("headless", {})):
        shutil.copytree(teacher, root / name)
        config = json.loads((root / name / "config.json").read_text())
        config["model"] |= change
        if name == "headless":
            del config["model"]["heads"]
        (root / name / "config.json").write_text(json.dumps(config))
    from onestep.models import wan_tiny

    wan_tiny.build(root / "wan", i2v=False)
    shutil.copytree(teacher, root / "steps")
    config = json.loads((root / "steps" / "config.json").read_text())
    config["sampling"]["steps"] = -3
    (root / "steps" / "config.json").write_text(json.dumps(config))
    (root / "badrun").mkdir()
    (root / "badrun" / "metrics.json").write_text('{"total": ')
    return root


D = ["distill", "pose-test", "--teacher", "{root}/teacher", "--out", "{root}/run"]
ROWS = [
    # distill: the config's values
    (D + ["--set", "priming.lr=nan"], "priming.lr nan: use a positive finite number"),
    (D + ["--set", "priming.lr=-1"], "priming.lr -1.0: use a positive finite number"),
    (D + ["--set", "equilibrium.critic_lr=0"], "equilibrium.critic_lr 0.0"),
    (D + ["--set", "ode.grad_clip=0"], "ode.grad_clip 0.0"),
    (D + ["--set", "data.batch_size=0"], "data.batch_size 0: use 1 or more"),
    (D + ["--set", "data.p_t2v=1.5"], "data.p_t2v 1.5"),
    (D + ["--set", "train.checkpoint_every=0"], "train.checkpoint_every 0: use 1 or more"),
    (D + ["--set", "train.checkpoint_every=-1"], "train.checkpoint_every -1: use 1 or more"),
    (D + ["--set", "train.log_every=0"], "train.log_every 0"),
    (D + ["--set", "train.threads=0"], "train.threads 0"),
    (D + ["--set", "train.sample_every=-5"], "train.sample_every -5"),
    (D + ["--set", "train.accum=0"], "train.accum 0"),
    (D + ["--set", "train.precision=fp8"], "train.precision 'fp8'"),
    (D + ["--set", "parallel.device=tpu9"], "parallel.device 'tpu9': use cpu, cuda, cuda:N or auto"),
    (D + ["--set", "parallel.sp=0"], "parallel.sp 0"),
    (D + ["--set", "model.dtype=int8"], "model.dtype 'int8'"),
    (D + ["--set", "priming.steps=-3"], "phase priming has -3 steps"),
    (D + ["--set", "lrr=1"], "unknown config key"),
    (D + ["--max-steps", "0"], "--max-steps 0: use 1 or more"),
    (
        ["distill", "pose-nope", "--teacher", "{root}/teacher", "--out", "{root}/run"],
        "unknown distillation preset 'pose-nope'",
    ),
    (["distill", "pose-test", "--teacher", "{root}/teacher", "--out", "{root}/mine/notes.txt"], "is a file"),
    # sample
    (
        ["sample", "--model", "{root}/teacher", "--prompt", "a cat", "--seed", "-5", "--out", "{root}/x.mp4"],
        "--seed -5: use 0 or more",
    ),
    (
        ["sample", "--model", "{root}/teacher", "--prompt", "a cat", "--cfg", "nan", "--out", "{root}/x.mp4"],
        "--cfg nan",
    ),
    (
        ["sample", "--model", "{root}/teacher", "--prompt", "a cat", "--out", "{root}/x.avi"],
        "--out must end in .mp4 or .gif",
    ),
    (["sample", "--model", "{root}/nan", "--prompt", "a cat", "--out", "{root}/x.mp4"], "non-finite values"),
    (
        ["sample", "--model", "{root}/teacher", "--prompt", "a cat", "--nfe", "3", "--out", "{root}/x.mp4"],
        "--nfe 3 is odd",
    ),
    (
        ["sample", "--model", "{root}/mine/notes.txt", "--prompt", "a cat", "--out", "{root}/x.mp4"],
        "is a file: pass the model's directory",
    ),
    (["sample", "--model", "{root}/badjson", "--prompt", "a cat", "--out", "{root}/x.mp4"], "not valid JSON"),
    (
        ["sample", "--model", "{root}/listjson", "--prompt", "a cat", "--out", "{root}/x.mp4"],
        "holds a JSON list, not an object",
    ),
    (
        ["sample", "--model", "{root}/eight", "--prompt", "a cat", "--out", "{root}/x.mp4"],
        "a model field of the wrong type",
    ),
    (
        ["sample", "--model", "{root}/extra", "--prompt", "a cat", "--out", "{root}/x.mp4"],
        "unknown model fields ['wings']",
    ),
    (
        ["sample", "--model", "{root}/headless", "--prompt", "a cat", "--out", "{root}/x.mp4"],
        "lacks model fields ['heads']",
    ),
    # eval, report, compare, bench, plan, teacher
    (["eval", "--model", "{root}/teacher", "--out", "{root}/mine/notes.txt"], "--out {root}/mine/notes.txt is a file"),
    (["report", "{root}/badrun", "--out", "{root}/rep"], "metrics.json does not read as JSON"),
    (["eval", "--model", "{root}/teacher", "--track", "moon", "--out", "{root}/ev"], "unknown track 'moon'"),
    (["eval", "--model", "{root}/teacher", "--n", "1", "--out", "{root}/ev"], "--n 1 is too few"),
    (["eval", "--model", "{root}/teacher", "--prompts", "slang", "--out", "{root}/ev"], "unknown --prompts 'slang'"),
    (["compare", "pose-test", "--threads", "0", "--out", "{root}/cmp"], "--threads 0"),
    (["compare", "pose-test", "--budget", "0", "--out", "{root}/cmp"], "--budget 0"),
    (["compare", "pose-nope", "--out", "{root}/cmp"], "unknown preset(s) pose-nope"),
    (["bench", "--model", "{root}/teacher", "--repeats", "0"], "--repeats 0"),
    (["plan", "pose-test", "--gpus", "1", "--gpu-mem", "0"], "--gpu-mem 0"),
    (["plan", "pose-test", "--gpus", "1", "--gpu-mem", "nan"], "--gpu-mem nan"),
    (["plan", "pose-test", "--gpus", "1", "--gpu-mem", "-80"], "--gpu-mem -80"),
    (["teacher", "--out", "{root}/t", "--max-steps", "0"], "--max-steps 0"),
    (["teacher", "--out", "{root}/t", "--preset", "teacher-huge"], "teacher-huge"),
    (["teacher", "--out", "{root}/t", "--set", "lrr=1"], "unknown config key 'lrr'"),
    (["teacher", "--out", "{root}/t", "--set", "steps=many"], "takes a int"),
    (["teacher", "--out", "{root}/mine/notes.txt"], "is a file"),
    # more of distill, sample, eval, compare, plan, export, prepare, pairs
    (["distill", "pose-test", "--teacher", "{root}/nowhere", "--out", "{root}/run"], "does not exist"),
    (
        ["distill", "pose-test", "--teacher", "{root}/teacher", "--data", "{root}/mine", "--out", "{root}/run"],
        "leave out --data",
    ),
    (D + ["--set", "model.student_lora_rank=-1"], "model.student_lora_rank -1"),
    (D + ["--set", 'data.tracks={"moon": 1}'], "unknown track(s) ['moon']"),
    (
        ["sample", "--model", "{root}/teacher", "--prompt", "a cat", "--frames", "9", "--out", "{root}/x.mp4"],
        "--frames and --size are for Wan models",
    ),
    (
        [
            "sample",
            "--model",
            "{root}/teacher",
            "--prompt",
            "a cat",
            "--image",
            "{root}/mine/notes.txt",
            "--out",
            "{root}/x.mp4",
        ],
        "notes.txt",
    ),
    (
        ["eval", "--model", "{root}/teacher", "--photos", "{root}/mine", "--n", "2", "--out", "{root}/ev"],
        "holds no PNG",
    ),
    (["eval", "--model", "{root}/teacher", "--conditions", "{root}/mine/notes.txt", "--out", "{root}/ev"], "not JSON"),
    (["compare", "pose-test", "pose-test", "--out", "{root}/cmp"], "name each preset once"),
    (["compare", "pose-test", "--nfe", "0", "--out", "{root}/cmp"], "NFEs of 1 or more"),
    (["plan", "pose-nope", "--gpus", "1"], "pose-nope"),
    (["export", "{root}/mine", "--out", "{root}/exp"], "has no config.json"),
    (
        ["prepare", "--videos", "{root}/nowhere", "--teacher", "{root}/teacher", "--out", "{root}/cache"],
        "is not a folder",
    ),
    (
        ["prepare", "--videos", "{root}/mine", "--teacher", "{root}/teacher", "--out", "{root}/cache"],
        "is not a Wan diffusers folder",
    ),
    (
        ["pairs", "--teacher", "{root}/teacher", "--preset", "pose-nope", "--out", "{root}/pairs"],
        "unknown distillation preset",
    ),
    (
        ["sample", "--model", "{root}/steps", "--prompt", "a cat", "--out", "{root}/x.mp4"],
        "config.json sampling.steps -3",
    ),
    (
        ["sample", "--model", "{root}/wan", "--prompt", "a cat", "--image", "{root}/x.png", "--out", "{root}/x.mp4"],
        "text-to-video Wan model and takes no first frame",
    ),
    (
        ["sample", "--model", "{root}/wan", "--prompt", "a cat", "--size", "0x0", "--out", "{root}/x.mp4"],
        "smaller than Wan's 16x16",
    ),
    (
        ["sample", "--model", "{root}/wan", "--prompt", "a cat", "--frames", "0", "--out", "{root}/x.mp4"],
        "--frames 0 is not 4k + 1",
    ),
    (["bench", "--model", "{root}/wan"], "is a Wan model: `onestep bench` times built-in DiT models"),
    (
        ["pairs", "--teacher", "{root}/wan", "--out", "{root}/pairs"],
        "is a Wan model: ODE pairs are made on the embedded world",
    ),
    (["demo", "--n", "1", "--out", "{root}/demo"], "--n 1 is too few"),
    (["demo", "--out", "{root}/mine/notes.txt"], "is a file"),
    (["featnet", "--steps", "0", "--out", "{root}/fn"], "--steps 0"),
    (["featnet", "--out", "{root}/mine/notes.txt"], "is a file"),
]


def snapshot(root) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("args, words", ROWS, ids=[f"{a[0]} {' '.join(a[-2:])}" for a, _ in ROWS])
def test_bad_input_is_one_line_naming_the_fix_and_touches_nothing(world, args, words):
    before = snapshot(world)
    result = runner.invoke(app, [a.replace("{root}", str(world)) for a in args])
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError), (result.output, repr(result.exception))
    message = str(result.exception)
    assert words.replace("{root}", str(world)) in message and "\n" not in message, message
    assert snapshot(world) == before
