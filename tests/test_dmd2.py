"""DMD2: its critic is VSD's fake-score loss plus the classifier's, its generator VSD's loss plus the
GAN term, and the `dmd2` preset trains end to end."""

import json

import torch

from onestep import methods, seeding
from onestep.commands import distill
from onestep.methods.dmd2 import Dmd2Config
from onestep.methods.vsd import VSDConfig
from tests.test_methods import batch, pairs, roles_for, teacher_dir, world_batch  # noqa: F401 (fixtures)


def losses(config, teacher_dir, batch, which):  # noqa: F811
    method = methods.build(config)
    roles = roles_for(method, teacher_dir)
    torch.manual_seed(0)
    if "disc_head" in roles:
        roles["disc_head"].load_state_dict(
            {k: torch.randn_like(v) * 0.1 for k, v in roles["disc_head"].state_dict().items()}
        )
    out = getattr(method, which)(batch, roles, seeding.streams(0, 0)())
    return out, roles


def test_the_critic_is_vsds_score_loss_plus_the_classifiers(teacher_dir, batch):  # noqa: F811
    vsd, _ = losses(VSDConfig(fake_score="copy", input_lo=1.0, t_shift=1.0), teacher_dir, batch, "fake_score_loss")
    plain, _ = losses(Dmd2Config(gan_d_weight=0.0), teacher_dir, batch, "fake_score_loss")
    gan, roles = losses(Dmd2Config(gan_d_weight=1.0), teacher_dir, batch, "fake_score_loss")
    torch.testing.assert_close(plain.loss, vsd.loss)  # the same draws, the same flow loss first
    assert abs(gan.loss.item() - vsd.loss.item() - gan.logs["dmd2/d_loss"]) < 1e-5
    gan.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in roles["disc_head"].parameters())


def test_the_generators_gan_term_reaches_the_student(teacher_dir, batch):  # noqa: F811
    grads = []
    for weight in (0.0, 1.0):
        out, roles = losses(Dmd2Config(gan_g_weight=weight), teacher_dir, batch, "student_loss")
        out.loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in roles.student.parameters() if p.grad is not None]))
    assert grads[0].abs().sum() > 0 and (grads[1] - grads[0]).abs().max() > 1e-6


def test_the_dmd2_preset_trains(teacher_dir, tmp_path):  # noqa: F811
    student = distill.run(
        preset="dmd2",
        teacher=teacher_dir,
        out=tmp_path / "run",
        overrides=["dmd2.steps=3", "data.batch_size=2", "train.threads=1", "train.sample_every=0"],
        progress=False,
    )
    config = json.loads((student / "config.json").read_text())
    assert config["preset"] == "dmd2" and config["trained_steps"] == 3 and config["sampling"]["kind"] == "renoise"
