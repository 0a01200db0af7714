"""The method contract every recipe passes, the pieces of POSE on known inputs, and short runs."""

import copy

import pytest
import torch

from onestep import flow, samplers, world
from onestep.errors import UserError
from onestep.methods.heads import FeatureTaps, default_taps, hinge_d, hinge_g
from onestep.methods.ode_regression import OdeRegression, OdeRegressionConfig
from onestep.methods.pairs import saved_pairs
from onestep.methods.pose import PoseConfig, PoseEquilibrium, st_r1
from onestep.methods.vsd import VSD, VSDConfig
from onestep.models.lora import adapters_disabled, lora_parameters
from onestep.models.video_dit import DiTConfig, VideoDiT
from onestep.train.ema import make_ema
from onestep.types import Cond, Nets
from onestep.world.stream import collate


def tiny_teacher():
    torch.manual_seed(0)
    m = VideoDiT(DiTConfig(dim=32, depth=3, heads=2, patch=(2, 4, 4)))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m.eval().requires_grad_(False)


@pytest.fixture
def nets(encoder):
    teacher = tiny_teacher()
    generator = copy.deepcopy(teacher).requires_grad_(True)
    null_text, null_mask = encoder.null(1)
    return Nets(generator, teacher, make_ema(generator), torch.nn.ModuleDict(), null_text, null_mask)


@pytest.fixture
def batch(encoder):
    b = collate([world.sample("shapes", 1), world.sample("photocam", 2)])
    b.text, b.text_mask = encoder(b.prompts)
    return b


METHODS = [
    lambda: VSD(VSDConfig(critic_ratio=1, lora_rank=4)),
    lambda: PoseEquilibrium(PoseConfig(head="semantic", head_dim=32, queries=2)),
    lambda: PoseEquilibrium(PoseConfig(head="conv")),
    lambda: PoseEquilibrium(PoseConfig(backbone="teacher", head_dim=32)),
    lambda: PoseEquilibrium(PoseConfig(backbone="trainable", head_dim=32)),
]


@pytest.mark.parametrize("make", METHODS, ids=["vsd", "pose-semantic", "pose-conv", "pose-teacher-backbone", "pose-trainable-backbone"])
def test_method_contract(make, nets, batch):
    method = make()
    method.setup(nets)
    trainable = method.trainable(nets)
    teacher_before = {k: v.clone() for k, v in nets.teacher.state_dict().items() if "lora_" not in k}
    everything = [p for ps in trainable.values() for p in ps]
    for step in range(2):
        for k, update in enumerate(method.updates(step)):
            for p in everything:
                p.requires_grad_(False)
                p.grad = None
            for p in trainable[update.role]:
                p.requires_grad_(True)
            out = update.loss(nets, batch, torch.Generator().manual_seed(10 * step + k))
            assert torch.isfinite(out.loss) and all(torch.isfinite(torch.tensor(v)) for v in out.logs.values())
            out.loss.backward()
            own = {id(p) for p in trainable[update.role]}
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable[update.role]), update.role
            assert all(p.grad is None for p in everything if id(p) not in own), f"gradient leaked out of {update.role}"
            assert all(p.grad is None for p in nets.generator_ema.parameters()), "the EMA received a gradient"
            with torch.no_grad():
                for p in trainable[update.role]:
                    if p.grad is not None:
                        p.add_(-1e-3 * p.grad.sign())
    after = {k: v for k, v in nets.teacher.state_dict().items() if "lora_" not in k}
    assert all(torch.equal(teacher_before[k], after[k]) for k in teacher_before), "the teacher changed"


def test_lora_fake_score_is_the_teacher_at_step_zero(nets, batch):
    cond = Cond(batch.text, batch.text_mask, batch.image)
    x, t = torch.randn(batch.video.shape), torch.full((2,), 0.6)
    before = nets.teacher(x, t, cond)
    VSD(VSDConfig(lora_rank=4)).setup(nets)
    assert lora_parameters(nets.teacher)
    assert torch.equal(nets.teacher(x, t, cond), before)  # zero-initialised B
    with torch.no_grad():
        for p in lora_parameters(nets.teacher).values():
            p.add_(0.1)
    assert not torch.allclose(nets.teacher(x, t, cond), before)
    with adapters_disabled(nets.teacher):
        assert torch.equal(nets.teacher(x, t, cond), before)  # the real score comes back exactly


def test_vsd_schedule():
    vsd = VSD(VSDConfig(critic_ratio=5))
    roles = [[u.role for u in vsd.updates(s)] for s in range(6)]
    assert roles[0] == ["generator", "critic"] and roles[1:5] == [["critic"]] * 4 and roles[5] == ["generator", "critic"]


def test_hinge_on_known_inputs():
    assert hinge_d(torch.tensor([2.0, 1.5]), torch.tensor([-3.0, -1.0])) == 0.0
    assert hinge_d(torch.zeros(3), torch.zeros(3)) == 2.0
    assert hinge_d(torch.tensor([0.5]), torch.tensor([0.5])) == pytest.approx(0.5 + 1.5)
    assert hinge_g(torch.tensor([1.0, 3.0])) == -2.0


def test_st_r1_estimates_the_gradient_norm_of_a_linear_discriminator():
    """For D(x) = w.x and isotropic e, E[(D(x+e) - D(x))^2 d / ||e||^2] = ||w||^2 (the R1 penalty)."""
    torch.manual_seed(0)
    w = torch.randn(3 * 4 * 8 * 8)
    x = torch.randn(2000, 3, 4, 8, 8)
    e = 0.01 * torch.randn_like(x)
    d = lambda v: (v.flatten(1) @ w)[:, None]  # noqa: E731
    est = st_r1(d(x + e), d(x), e).mean()
    assert float(est) == pytest.approx(float(w.pow(2).sum()), rel=0.1)
    assert st_r1(d(x), d(x), e).abs().max() == 0  # a flat D has no penalty


class _Linear(torch.nn.Module):
    """A 'teacher' with v(x, t) = a x: its ODE has the closed form x(t_next) = x(t) exp(a (t_next - t))."""

    def __init__(self, a: float):
        super().__init__()
        self.a = a

    def forward(self, x, t, cond):
        return self.a * x


def test_consistency_target_is_eq5_at_one_step_and_the_teacher_ode_at_many(nets, batch):
    cond = Cond(batch.text, batch.text_mask, batch.image)
    x0 = batch.video
    target = lambda k, teacher: PoseEquilibrium(PoseConfig(consistency_steps=k, guidance=1.0)).consistency_target(  # noqa: E731
        Nets(nets.generator, teacher, nets.generator_ema, nets.critic, nets.null_text, nets.null_mask), x0, cond, torch.Generator().manual_seed(3)
    )
    g = torch.Generator().manual_seed(3)  # the same draws as the method: t, then eps
    cfg = PoseConfig()
    t = flow.shift(cfg.consistency_t_lo + (cfg.consistency_t_hi - cfg.consistency_t_lo) * torch.rand(2, generator=g), cfg.consistency_t_shift)
    x_t = flow.interpolate(x0, torch.randn(x0.shape, generator=g), t)
    with torch.no_grad():
        one_call = flow.x0_from_v(x_t, nets.teacher(x_t, t, cond), t)
    torch.testing.assert_close(target(1, nets.teacher), one_call)  # Eq. 5 exactly
    exact = x_t * torch.exp(-0.5 * t).view(-1, 1, 1, 1, 1)  # dx/dt = 0.5 x, integrated from t to 0
    errors = [(target(k, _Linear(0.5)) - exact).abs().max().item() for k in (1, 4, 16)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.02  # Euler converges to the ODE's solution


def test_perturbation_keeps_the_condition_frame_clean(batch):
    pose = PoseEquilibrium(PoseConfig(sigma_s=0.01, sigma_t=0.1))
    cond = Cond(batch.text, batch.text_mask, batch.image, torch.tensor([1.0, 0.0]))
    e = pose.perturbation(batch.video, cond, torch.Generator().manual_seed(0))
    assert e[0, :, 0].abs().max() == 0 and e[1, :, 0].abs().max() > 0  # frame 0 clean only under I2V
    per_frame = e[0, :, 1:].mean(dim=(-1, -2))  # the temporal part: offsets of scale sigma_t
    assert 0.02 < per_frame.std() < 0.3


def test_feature_taps_stop_after_the_last_tapped_block():
    m = tiny_teacher()
    calls = []
    m.blocks[2].register_forward_hook(lambda *a: calls.append(2))
    taps = FeatureTaps(m, (0, 1))
    x = torch.randn(1, 3, 8, 32, 32)
    feats = taps(x, torch.rand(1), Cond(torch.randn(1, 4, 384), torch.ones(1, 4, dtype=torch.bool)))
    assert [f.shape for f in feats] == [torch.Size([1, 64 * 4, 32])] * 2 and calls == []
    assert default_taps(6) == (1, 3, 5) and default_taps(3) == (0, 1, 2)


def test_ode_pairs_are_the_teachers_solutions_made_once_and_remade_exactly(nets, batch, tmp_path):
    cfg = OdeRegressionConfig(pairs=3, chunk_batches=1, teacher_steps=3, guidance=2.0)
    opened = []

    def batches(start):  # 2 clips a batch: 2 chunks, the last cut to 3 pairs
        opened.append(start)
        return iter([batch] * 4)

    ode = OdeRegression(cfg)
    ode.prepare(nets, tmp_path, batches, seed=0, progress=False)
    assert len(opened) == 1  # consecutive chunks share one batch stream
    d = ode.data
    assert d["noise"].shape == (3, *batch.video.shape[1:]) and d["x0"].shape == d["noise"].shape
    cond = Cond(d["text"][:2], d["text_mask"][:2], d["image"][:2])
    expected = samplers.euler(nets.teacher, d["noise"][:2], cond, steps=3, shift=cfg.shift, guidance=2.0, uncond=nets.uncond(cond))
    torch.testing.assert_close(d["x0"][:2], expected)  # the guided teacher's ODE solution from that noise

    chunks = sorted((tmp_path / "ode_pairs").glob("chunk_*.safetensors"))
    assert len(chunks) == 2 and not list((tmp_path / "ode_pairs").glob("*.partial"))
    first = chunks[0].stat().st_mtime_ns
    chunks[1].unlink()  # a run killed while making the second chunk
    again = OdeRegression(cfg)
    again.prepare(nets, tmp_path, batches, seed=0, progress=False)
    assert chunks[0].stat().st_mtime_ns == first  # finished chunks are kept, not remade
    assert all(torch.equal(d[k], again.data[k]) for k in d)  # the missing one is remade exactly


def test_ode_regression_trains_only_the_generator_towards_the_pairs(nets, batch, tmp_path):
    ode = OdeRegression(OdeRegressionConfig(pairs=2, chunk_batches=1, teacher_steps=2))
    with pytest.raises(RuntimeError, match="prepare"):
        ode.generator_loss(nets, batch, torch.Generator().manual_seed(0))
    ode.prepare(nets, tmp_path, lambda start: iter([batch]), seed=0, progress=False)
    params = ode.trainable(nets)["generator"]
    assert list(ode.trainable(nets)) == ["generator"] and all(u.role == "generator" for u in ode.updates(0))
    opt = torch.optim.Adam(params, lr=1e-3)
    losses = []
    for step in range(20):
        out = ode.generator_loss(nets, batch, torch.Generator().manual_seed(step))
        opt.zero_grad()
        out.loss.backward()
        assert all(p.grad is None for p in nets.teacher.parameters()) and all(p.grad is None for p in nets.generator_ema.parameters())
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_ode_pairs_made_with_other_settings_are_refused(nets, batch, tmp_path):
    batches = lambda start: iter([batch])  # noqa: E731
    OdeRegression(OdeRegressionConfig(pairs=2, chunk_batches=1, teacher_steps=2)).prepare(nets, tmp_path, batches, seed=0, progress=False)
    with pytest.raises(UserError, match="teacher_steps.*delete that folder"):
        OdeRegression(OdeRegressionConfig(pairs=2, chunk_batches=1, teacher_steps=3)).prepare(nets, tmp_path, batches, seed=0, progress=False)


def test_ode_renoised_term_regresses_the_targets_from_the_few_step_levels(nets, batch, tmp_path):
    ode = OdeRegression(OdeRegressionConfig(pairs=2, chunk_batches=1, teacher_steps=2, renoise_t=(0.5,)))
    ode.prepare(nets, tmp_path, lambda start: iter([batch]), seed=0, progress=False)
    out = ode.generator_loss(nets, batch, torch.Generator().manual_seed(0))
    assert set(out.logs) == {"ode/mse", "ode/renoised_mse"}
    assert out.loss.item() == pytest.approx(out.logs["ode/mse"] + out.logs["ode/renoised_mse"], rel=1e-5)
    g = torch.Generator().manual_seed(1)
    x0 = ode.data["x0"][:1]
    cond = Cond(ode.data["text"][:1], ode.data["text_mask"][:1], ode.data["image"][:1])
    loss = ode.renoised_loss(nets, x0, cond, g)
    g = torch.Generator().manual_seed(1)
    t = torch.tensor([0.5])[torch.randint(1, (1,), generator=g)]
    x_t = flow.interpolate(x0, torch.randn(x0.shape, generator=g), t)
    with torch.no_grad():
        expected = (flow.x0_from_v(x_t, nets.generator(x_t, t, cond), t) - x0).pow(2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("make", [lambda w: VSD(VSDConfig(critic_ratio=1, lora_rank=4, ode_weight=w)), lambda w: PoseEquilibrium(PoseConfig(head_dim=32, queries=2, ode_weight=w))], ids=["vsd", "pose"])
def test_ode_weight_adds_the_regression_on_the_runs_pairs(make, nets, batch, tmp_path):
    with pytest.raises(UserError, match="ode phase"):
        make(2.0).prepare(nets, tmp_path, None, seed=0, progress=False)
    ode = OdeRegression(OdeRegressionConfig(pairs=2, chunk_batches=1, teacher_steps=2))
    ode.prepare(nets, tmp_path, lambda start: iter([batch]), seed=0, progress=False)
    plain, anchored = make(0.0), make(2.0)
    for method in (plain, anchored):
        method.setup(nets)
        method.prepare(nets, tmp_path, None, seed=0, progress=False)
    assert plain.pairs is None and anchored.pairs["x0"].shape[0] == 2
    assert saved_pairs(tmp_path) is anchored.pairs  # one copy per run, shared by the phases that regress it
    assert all(ode.data[k].data_ptr() == v.data_ptr() for k, v in anchored.pairs.items())  # the ode phase's too
    base = plain.generator_loss(nets, batch, torch.Generator().manual_seed(3))
    out = anchored.generator_loss(nets, batch, torch.Generator().manual_seed(3))
    assert set(out.logs) == set(base.logs) | {"ode/anchor_mse"} and out.logs["ode/anchor_mse"] > 0
    assert out.loss.item() == pytest.approx(base.loss.item() + 2.0 * out.logs["ode/anchor_mse"], rel=1e-5)
    out.loss.backward()
    assert any(p.grad is not None for p in nets.generator.parameters())
    assert all(p.grad is None for p in nets.teacher.parameters()) and all(p.grad is None for p in nets.generator_ema.parameters())
