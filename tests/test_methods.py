"""The method contract every registered recipe passes (the registry drives it), the default-device
trap, the pieces of POSE on known inputs, and the ODE-pair data step."""

import math

import pytest
import torch

from onestep import flow, methods, samplers, seeding, world
from onestep.configs.distill import PairsConfig
from onestep.data import pairs as ode_pairs
from onestep.data.world import as_batch
from onestep.errors import UserError
from onestep.methods.add import AddConfig
from onestep.methods.apt import AptConfig
from onestep.methods.asd import AsdConfig
from onestep.methods.causal_init import CausalInitConfig
from onestep.methods.consistency import ConsistencyConfig
from onestep.methods.critic import default_taps, hinge_d, hinge_g
from onestep.methods.dmd2 import Dmd2Config
from onestep.methods.flow_matching import FlowMatchingConfig
from onestep.methods.ode_regression import OdeRegression, OdeRegressionConfig
from onestep.methods.pose import PoseConfig, PoseEquilibrium, st_r1
from onestep.methods.self_forcing import SelfForcingConfig
from onestep.methods.vsd import VSD, VSDConfig
from onestep.models.lora import LoraScore
from onestep.train.roles import build_roles
from onestep.types import Cond, Method, Roles
from onestep.world.stream import collate
from tests.tiny import tiny_teacher, tiny_teacher_dir

# Every registered method's config type, with the variants the contract covers. A method added to the
# registry without an entry here fails `test_every_registered_method_is_under_contract`.
VARIANTS = {
    VSDConfig: {
        "vsd": VSDConfig(critic_ratio=1, lora_rank=4),
        "vsd-copy": VSDConfig(critic_ratio=1, fake_score="copy"),
        "vsd-anchor": VSDConfig(critic_ratio=1, lora_rank=4, ode_weight=1.0),
    },
    PoseConfig: {
        "pose-semantic": PoseConfig(head_dim=32, queries=2, ode_weight=1.0),
        "pose-conv": PoseConfig(head="conv"),
        "pose-xattn": PoseConfig(head="xattn", head_dim=32, queries=2, sigma_t=0.0),
        "pose-teacher-backbone": PoseConfig(backbone="teacher", head_dim=32),
        "pose-trainable-backbone": PoseConfig(backbone="trainable", head_dim=32),
        "pose-no-adversarial": PoseConfig(adv_weight=0.0),
    },
    OdeRegressionConfig: {"ode": OdeRegressionConfig(renoise_t=(0.5,))},
    FlowMatchingConfig: {
        "flow": FlowMatchingConfig(p_drop_text=0.5, motion_weight=4.0),
        "flow-token-drop": FlowMatchingConfig(p_drop_token=0.5),
    },
    CausalInitConfig: {"causal-init": CausalInitConfig(steps=2)},
    SelfForcingConfig: {"self-forcing": SelfForcingConfig(critic_ratio=1, lora_rank=4, steps=2)},
    AsdConfig: {"asd": AsdConfig(critic_ratio=1, lora_rank=4, steps=3, max_n=2, head_dim=16)},
    Dmd2Config: {"dmd2": Dmd2Config(critic_ratio=1, head_width=16)},
    AddConfig: {"add": AddConfig()},
    AptConfig: {"apt": AptConfig(head_dim=32, queries=2)},
    ConsistencyConfig: {
        "lcm": ConsistencyConfig(points=8),
        "pcm": ConsistencyConfig(points=8, adv_weight=0.1, head_width=16),
    },
}
CASES = [(name, cfg) for variants in VARIANTS.values() for name, cfg in variants.items()]


def test_every_registered_method_is_under_contract():
    assert set(VARIANTS) == set(methods.METHODS)
    for config_type in methods.METHODS:
        assert isinstance(methods.build(config_type()), Method)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    return tiny_teacher_dir(tmp_path_factory.mktemp("teacher") / "teacher")


@pytest.fixture(scope="module")
def world_batch(encoder):
    b = collate([world.sample("shapes", 1), world.sample("photocam", 2)])
    b.text, b.text_mask = encoder(b.prompts)
    b.neg_text, b.neg_text_mask = encoder.null(1)
    return b


@pytest.fixture(scope="module")
def pairs(teacher_dir, world_batch, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    ode_pairs.make(
        tiny_teacher(),
        lambda start: iter([as_batch(world_batch)] * 2),
        folder,
        PairsConfig(count=4, chunk_batches=1, teacher_steps=2),
        0,
        {"test": 1},
        progress=False,
    )
    return ode_pairs.load(folder, 4)


@pytest.fixture
def batch(world_batch, pairs):
    return as_batch(world_batch, pairs=pairs)


def roles_for(method, teacher_dir) -> Roles:
    """The method's roles on the tiny teacher; a block-causal student (one latent frame per block)
    where it needs one."""
    return build_roles(
        teacher_dir,
        [method],
        seed=0,
        device=torch.device("cpu"),
        student_causal_block=1 if getattr(method, "causal_student", False) else 0,
    )


def run_steps(method, roles, batch, steps=2):
    """Each update as the trainer applies it: only its group open, its loss, backward, a small step."""
    groups = method.groups(roles)
    everything = [p for ps in groups.values() for p in ps]
    schedule = []
    for step in range(steps):
        rng = seeding.streams(0, step)
        for update in method.step(batch, roles, rng, step):
            schedule.append(update.group)
            for p in everything:
                p.requires_grad_(False)
                p.grad = None
            for p in groups[update.group]:
                p.requires_grad_(True)
            out = update.loss()
            assert math.isfinite(out.loss.item()) and all(math.isfinite(v) for v in out.logs.values())
            out.loss.backward()
            own = {id(p) for p in groups[update.group]}
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in groups[update.group]), update.group
            assert all(p.grad is None for p in everything if id(p) not in own), f"gradient leaked out of {update.group}"
            assert all(p.grad is None for p in roles.ema.parameters()), "the EMA received a gradient"
            with torch.no_grad():
                for p in groups[update.group]:
                    if p.grad is not None:
                        p.add_(-1e-3 * p.grad.sign())
    return schedule


@pytest.mark.parametrize("name,config", CASES, ids=[c[0] for c in CASES])
def test_method_contract(name, config, teacher_dir, batch):
    method = methods.build(config)
    roles = roles_for(method, teacher_dir)
    assert all(r in roles for r in method.roles)
    assert set(method.groups(roles)) <= set(roles) - {"teacher", "ema"}  # a group is a trained role
    teacher_before = {k: v.clone() for k, v in roles.teacher.state_dict().items() if "lora_" not in k}
    schedule = run_steps(method, roles, batch)
    assert set(schedule) == set(method.groups(roles))  # every group steps within two steps
    after = {k: v for k, v in roles.teacher.state_dict().items() if "lora_" not in k}
    assert all(torch.equal(teacher_before[k], after[k]) for k in teacher_before), "the teacher changed"
    # a method with a discriminator reads its held-out accuracy; one without reads nothing
    reading = method.separation(batch, roles, seeding.streams(0, 99)())
    assert set(reading) == ({"disc/accuracy"} if "disc_head" in method.roles else set())
    assert all(0.0 <= v <= 1.0 for v in reading.values())


@pytest.mark.parametrize("name,config", CASES, ids=[c[0] for c in CASES])
def test_no_tensor_is_made_on_the_default_device(name, config, teacher_dir, batch):
    """With the default device set to `meta`, any tensor a method makes without naming a device lands
    on meta and the first op mixing it with the CPU batch fails: every draw follows its inputs."""
    method = methods.build(config)
    roles = roles_for(method, teacher_dir)
    with torch.device("meta"):
        run_steps(method, roles, batch)


def test_samplers_make_nothing_on_the_default_device(teacher_dir, batch):
    net = tiny_teacher()
    noise = torch.randn(batch.video.shape)
    with torch.device("meta"):
        a = samplers.euler(net, noise, batch.cond, steps=2, shift=3.0, guidance=3.0)
        b = samplers.renoise(
            net, noise, batch.cond, times=samplers.student_times(2, 3.0), generator=torch.Generator().manual_seed(0)
        )
        c = samplers.euler(net, noise, batch.cond, steps=2, guidance=3.0, cfg_batched=False)
    assert (
        a.device.type == b.device.type == c.device.type == "cpu" and torch.isfinite(a).all() and torch.isfinite(b).all()
    )


def test_vsd_schedule():
    vsd = VSD(VSDConfig(critic_ratio=5))
    groups = [[u.group for u in vsd.step(None, None, None, s)] for s in range(6)]
    assert (
        groups[0] == ["student", "fake_score"]
        and groups[1:5] == [["fake_score"]] * 4
        and groups[5] == ["student", "fake_score"]
    )


def test_lora_fake_score_is_the_teacher_at_step_zero_and_the_teacher_stays_the_teacher(teacher_dir, batch):
    roles = roles_for(VSD(VSDConfig(lora_rank=4)), teacher_dir)
    cond, x, t = batch.cond, torch.randn(batch.video.shape), torch.full((2,), 0.6)
    before = roles.teacher(x, t, cond)
    assert isinstance(roles["fake_score"], LoraScore) and len(list(roles["fake_score"].parameters())) > 0
    assert all("lora_" in n for n in roles["fake_score"].state_dict())  # the role owns the adapter alone
    assert torch.equal(roles["fake_score"](x, t, cond), before)  # zero-initialised B
    with torch.no_grad():
        for p in roles["fake_score"].parameters():
            p.add_(0.1)
    assert not torch.allclose(roles["fake_score"](x, t, cond), before)
    assert torch.equal(roles.teacher(x, t, cond), before)  # the teacher role never sees the adapter
    feats = roles.teacher.features(x, t, cond, (0, 2))
    assert not torch.allclose(roles["fake_score"].features(x, t, cond, (0, 2))[1], feats[1])


def test_roles_are_loaded_from_disk_not_copied(teacher_dir):
    roles = roles_for(PoseEquilibrium(PoseConfig(backbone="trainable", head_dim=32)), teacher_dir)
    modules = [roles.teacher, roles.student, roles.ema, roles["disc_backbone"]]
    storages = {p.untyped_storage().data_ptr() for m in modules for p in m.parameters()}
    assert len(storages) == sum(len(list(m.parameters())) for m in modules)  # no two roles share a tensor
    assert all(p.requires_grad for p in roles.student.parameters()) and not any(
        p.requires_grad for p in roles.teacher.parameters()
    )


def test_hinge_on_known_inputs():
    assert hinge_d(torch.tensor([2.0, 1.5]), torch.tensor([-3.0, -1.0])) == 0.0
    assert hinge_d(torch.zeros(3), torch.zeros(3)) == 2.0
    assert hinge_d(torch.tensor([0.5]), torch.tensor([0.5])) == pytest.approx(0.5 + 1.5)
    assert hinge_g(torch.tensor([1.0, 3.0])) == -2.0


def test_st_r1_by_hand_on_a_small_linear_discriminator():
    """Eq. 4 split: k ||D(x + e) - D(x)||^2 / ||e||^2 per part, worked by hand on a 1x1x2x1x2 video.

    D(x) = (w . x, 2 w . x): two logits. The spatial e has 4 entries; the temporal e is one offset per
    frame (k = 2), spread over the 2 pixels of its frame (energy counted on the broadcast tensor)."""
    w = torch.tensor([1.0, -2.0, 0.5, 3.0])
    D = lambda v: torch.stack([v.flatten(1) @ w, 2 * (v.flatten(1) @ w)], -1)  # noqa: E731
    x = torch.tensor([0.3, -0.1, 0.7, 0.2]).view(1, 1, 2, 1, 2)
    e_s = torch.tensor([0.01, 0.02, -0.01, 0.0]).view(1, 1, 2, 1, 2)  # one entry exactly 0: k_s = 3
    e_t = torch.tensor([0.1, -0.2]).view(1, 1, 2, 1, 1)
    spatial, temporal = st_r1(D, x, D(x), e_s, e_t)
    # spatial: w.e_s = 0.01 - 0.04 - 0.005 = -0.035; logits change (-0.035, -0.07); ||e_s||^2 = 6e-4; k = 3
    assert spatial.item() == pytest.approx(3 * (0.035**2 + 0.07**2) / 6e-4, rel=1e-5)
    # temporal: e_t broadcast = (0.1, 0.1, -0.2, -0.2); w.e = 0.1 - 0.2 - 0.1 - 0.6 = -0.8; energy 0.1; k = 2
    assert temporal.item() == pytest.approx(2 * (0.8**2 + 1.6**2) / 0.1, rel=1e-5)
    assert all(v.abs().max() == 0 for v in st_r1(D, x, D(x), 0 * e_s, 0 * e_t))  # no perturbation, no penalty, no 0/0


def test_st_r1_parts_estimate_the_spatial_and_temporal_gradient_norms():
    """Averaged over draws, on D(x) = w.x: spatial -> ||w||^2 (R1), temporal -> ||P_t w||^2 = sum over
    (channel, frame) of (sum over pixels of w)^2 / pixels, whatever sigma_s and sigma_t are (their
    energies no longer mix, as in one ratio over ||e_s + e_t||^2)."""
    torch.manual_seed(0)
    w = torch.randn(3, 4, 8, 8) + 0.3  # a mean per frame, so the temporal part is not ~0
    x = torch.randn(4000, 3, 4, 8, 8)
    D = lambda v: (v.flatten(1) @ w.flatten())[:, None]  # noqa: E731
    e_s, e_t = 0.01 * torch.randn_like(x), 0.1 * torch.randn(4000, 3, 4, 1, 1)
    spatial, temporal = st_r1(D, x, D(x), e_s, e_t)
    assert spatial.mean().item() == pytest.approx(w.pow(2).sum().item(), rel=0.05)
    assert temporal.mean().item() == pytest.approx((w.sum(dim=(-1, -2)).pow(2) / 64).sum().item(), rel=0.05)


class _Linear(torch.nn.Module):
    """A 'teacher' with v(x, t) = a x: its ODE has the closed form x(t_next) = x(t) exp(a (t_next - t))."""

    def __init__(self, a: float):
        super().__init__()
        self.a = a

    def forward(self, x, t, cond):
        return self.a * x


def test_consistency_target_is_eq5_at_one_step_and_the_teacher_ode_at_many(batch):
    teacher, cond, x0 = tiny_teacher(), batch.cond, batch.video
    target = lambda k, net: PoseEquilibrium(PoseConfig(consistency_steps=k, guidance=1.0)).consistency_target(  # noqa: E731
        Roles(net, net, net), x0, cond, seeding.Draws(3, 0, 0)
    )
    d = seeding.Draws(3, 0, 0)  # the same draws as the method: t, then eps
    cfg = PoseConfig()
    t = flow.shift(
        cfg.consistency_t_lo + (cfg.consistency_t_hi - cfg.consistency_t_lo) * d.rand(2), cfg.consistency_t_shift
    )
    x_t = flow.interpolate(x0, d.randn_like(x0), t)
    with torch.no_grad():
        one_call = flow.x0_from_v(x_t, teacher(x_t, t, cond), t)
    torch.testing.assert_close(target(1, teacher), one_call)  # Eq. 5 exactly
    exact = x_t * torch.exp(-0.5 * t).view(-1, 1, 1, 1, 1)  # dx/dt = 0.5 x, integrated from t to 0
    errors = [(target(k, _Linear(0.5)) - exact).abs().max().item() for k in (1, 4, 16)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.02  # Euler converges to the ODE's solution


def test_perturbation_keeps_the_condition_frame_clean(batch):
    pose = PoseEquilibrium(PoseConfig(sigma_s=0.01, sigma_t=0.1))
    cond = Cond(batch.cond.text, batch.cond.text_mask, batch.cond.latent, torch.tensor([1.0, 0.0]))
    e_s, e_t = pose.perturbation(batch.video, cond, seeding.Draws(0, 0, 0))
    for e in (e_s, e_t):
        assert e[0, :, 0].abs().max() == 0 and e[1, :, 0].abs().max() > 0  # frame 0 clean only under I2V
    assert e_t.shape == (*batch.video.shape[:3], 1, 1) and 0.05 < e_t[0, :, 1:].std() < 0.2  # offsets of scale sigma_t
    assert 0.005 < e_s[0, :, 1:].std() < 0.02


def test_truncated_forward_stops_after_the_last_layer_and_matches_the_full_pass():
    m = tiny_teacher()
    calls, seen = [], {}
    m.blocks[2].register_forward_hook(lambda *a: calls.append(2))
    for i in (0, 1):
        m.blocks[i].register_forward_hook(lambda mod, inp, out, i=i: seen.__setitem__(i, out))
    x, t = torch.randn(1, 3, 8, 32, 32), torch.rand(1)
    cond = Cond(torch.randn(1, 4, 384), torch.ones(1, 4, dtype=torch.bool))
    feats = m.features(x, t, cond, (1, 0))
    assert [f.shape for f in feats] == [torch.Size([1, 64 * 4, 32])] * 2 and calls == []
    assert torch.equal(feats[0], seen[1]) and torch.equal(feats[1], seen[0])  # in the order asked
    m(x, t, cond)
    assert calls == [2] and torch.equal(seen[1], feats[0])  # the full pass computes the same tokens
    with pytest.raises(UserError, match="not blocks"):
        m.features(x, t, cond, (3,))
    assert default_taps(6) == (1, 3, 5) and default_taps(3) == (0, 1, 2)


def test_ode_pairs_are_the_teachers_solutions_made_once_and_remade_exactly(world_batch, tmp_path):
    teacher, b = tiny_teacher(), as_batch(world_batch)
    opened = []

    def batches(start):  # 2 clips a batch: 2 chunks, loaded and cut to 3 pairs
        opened.append(start)
        return iter([b] * 4)

    made_with = {"teacher": "abc", "teacher_steps": 3}
    settings = PairsConfig(count=3, chunk_batches=1, teacher_steps=3, guidance=2.0, shift=3.0)
    ode_pairs.make(teacher, batches, tmp_path, settings, 0, made_with, progress=False)
    assert len(opened) == 1  # consecutive chunks share one batch stream
    d = ode_pairs.load(tmp_path, 3, made_with)
    assert d.noise.shape == (3, *b.video.shape[1:]) and d.x0.shape == d.noise.shape
    cond = d.cond.index(slice(0, 2)).with_negative(world_batch.neg_text, world_batch.neg_text_mask)
    expected = samplers.euler(teacher, d.noise[:2], cond, steps=3, shift=3.0, guidance=2.0)
    torch.testing.assert_close(d.x0[:2], expected)  # the guided teacher's ODE solution from that noise

    chunks = sorted(tmp_path.glob("chunk_*.safetensors"))
    assert len(chunks) == 2 and not list(tmp_path.glob("*.partial"))
    first = chunks[0].stat().st_mtime_ns
    chunks[1].unlink()  # a run killed while making the second chunk
    ode_pairs.make(teacher, batches, tmp_path, settings, 0, made_with, progress=False)
    again = ode_pairs.load(tmp_path, 3)
    assert chunks[0].stat().st_mtime_ns == first  # finished chunks are kept, not remade
    assert torch.equal(d.noise, again.noise) and torch.equal(d.x0, again.x0)  # the missing one is remade exactly
    with pytest.raises(UserError, match="teacher 'abc' .this run: 'other'.*onestep pairs"):
        ode_pairs.load(tmp_path, 3, made_with | {"teacher": "other"})
    with pytest.raises(UserError, match="holds 4 ODE pairs and this run regresses 9"):
        ode_pairs.load(tmp_path, 9)


def test_ode_regression_trains_only_the_student_towards_the_pairs(teacher_dir, batch):
    ode = OdeRegression(OdeRegressionConfig())
    roles = roles_for(ode, teacher_dir)
    with pytest.raises(RuntimeError, match="data.pairs"):
        ode.student_loss(as_batch_without_pairs(batch), roles, seeding.Draws(0, 0, 0))
    opt = torch.optim.Adam(ode.groups(roles)["student"], lr=1e-3)
    losses = []
    for step in range(20):
        out = ode.student_loss(batch, roles, seeding.Draws(step, 0, 0))
        opt.zero_grad()
        out.loss.backward()
        assert all(p.grad is None for p in roles.teacher.parameters()) and all(
            p.grad is None for p in roles.ema.parameters()
        )
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.5 * losses[0]


def as_batch_without_pairs(batch):
    from dataclasses import replace

    return replace(batch, pairs=None)


def test_ode_renoised_term_regresses_the_targets_from_the_few_step_levels(teacher_dir, batch):
    ode = OdeRegression(OdeRegressionConfig(renoise_t=(0.5,)))
    roles = roles_for(ode, teacher_dir)
    out = ode.student_loss(batch, roles, seeding.Draws(0, 0, 0))
    assert set(out.logs) == {"ode/mse", "ode/renoised_mse"}
    assert out.loss.item() == pytest.approx(out.logs["ode/mse"] + out.logs["ode/renoised_mse"], rel=1e-5)
    x0, cond = batch.pairs.x0[:2], batch.pairs.cond.index(slice(0, 2))
    loss = ode.renoised_loss(roles, x0, cond, seeding.Draws(1, 0, 0))
    d = seeding.Draws(1, 0, 0)  # both rows draw; the even row 0 alone is regressed
    t, eps = torch.tensor([0.5])[d.randint(1, 2)][:1], d.randn_like(x0)[:1]
    x_t = flow.interpolate(x0[:1], eps, t)
    with torch.no_grad():
        expected = (flow.x0_from_v(x_t, roles.student(x_t, t, cond.index(slice(0, 1))), t) - x0[:1]).pow(2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # any split of the batch into micro-batches averages to the whole batch's term
    x0, cond = batch.pairs.x0, batch.pairs.cond
    whole = ode.renoised_loss(roles, x0, cond, seeding.Draws(1, 0, 0)).item()
    for size in (1, 2):
        parts = [
            ode.renoised_loss(
                roles, x0[a : a + size], cond.index(slice(a, a + size)), seeding.Draws(1, 0, 0, first_row=a)
            ).item()
            for a in range(0, len(x0), size)
        ]
        assert sum(parts) / len(parts) == pytest.approx(whole, rel=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda w: VSD(VSDConfig(critic_ratio=1, lora_rank=4, ode_weight=w)),
        lambda w: PoseEquilibrium(PoseConfig(head_dim=32, queries=2, ode_weight=w)),
    ],
    ids=["vsd", "pose"],
)
def test_ode_weight_adds_the_regression_on_the_runs_pairs(make, teacher_dir, batch):
    plain, anchored = make(0.0), make(2.0)
    assert not plain.needs_pairs and anchored.needs_pairs
    roles = roles_for(plain, teacher_dir)
    base = plain.student_loss(batch, roles, seeding.Draws(3, 0, 0))
    out = anchored.student_loss(batch, roles, seeding.Draws(3, 0, 0))
    assert set(out.logs) == set(base.logs) | {"ode/anchor_mse"} and out.logs["ode/anchor_mse"] > 0
    assert out.loss.item() == pytest.approx(base.loss.item() + 2.0 * out.logs["ode/anchor_mse"], rel=1e-5)
    with pytest.raises(RuntimeError, match="data.pairs"):
        anchored.student_loss(as_batch_without_pairs(batch), roles, seeding.Draws(3, 0, 0))


def test_phase_ii_without_the_adversarial_term_builds_no_discriminator_and_draws_the_same_noise(teacher_dir, batch):
    full, ablated = (methods.build(PoseConfig(head_dim=32, adv_weight=w)) for w in (1.0, 0.0))
    assert ablated.roles == {} and list(ablated.groups(roles_for(ablated, teacher_dir))) == ["student"]
    logs = []
    for method in (full, ablated):
        roles = roles_for(method, teacher_dir)
        update = [u for u in method.step(batch, roles, seeding.streams(0, 3), 0) if u.group == "student"][0]
        logs.append(update.loss().logs)
    assert "pose/g_adv" in logs[0] and "pose/g_adv" not in logs[1]
    assert logs[0]["pose/consistency"] == logs[1]["pose/consistency"]  # the same generator noise and target draws


def test_a_lora_student_trains_only_its_adapter_and_saves_merged(teacher_dir, batch, tmp_path):
    """model.student_lora_rank: the student and its EMA are LoRAs on their own frozen copies; the
    saved student is the adapter merged into the base and computes what the LoRA computes."""
    from onestep.models.io import load_model, save_model

    method = methods.build(PoseConfig(head_dim=32, queries=2))
    roles = build_roles(teacher_dir, [method], seed=0, device=torch.device("cpu"), student_lora_rank=2)
    assert all("lora_" in n for n in roles.student.names) and len(list(roles.student.parameters())) == len(
        roles.student.names
    )
    run_steps(method, roles, batch, steps=1)
    x, t = torch.randn(batch.video.shape), torch.full((batch.video.shape[0],), 0.7)
    moved = roles.student(x, t, batch.cond)
    assert not torch.allclose(moved, roles.teacher(x, t, batch.cond))
    saved, _ = load_model(save_model(tmp_path / "student", roles.student, {"role": "student"}))
    torch.testing.assert_close(saved(x, t, batch.cond), moved, rtol=1e-5, atol=1e-5)


def test_the_level_rule_carries_a_papers_levels_to_the_models_resolution():
    """critic.Levels: at the reference size a level is itself; on the world's 8 x 32 x 32 RGB clips the
    SD3 shift with a = sqrt(24,576 / 4,838,400) lowers it (a "highly diffused" 0.9 is 0.39 here)."""
    from onestep.methods.critic import REFERENCE_VALUES, Levels, resolution_shift

    u = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(Levels(0.7, 0.98).of(u, REFERENCE_VALUES), torch.tensor([0.7, 0.84, 0.98]))
    a = resolution_shift(3 * 8 * 32 * 32)
    assert a == pytest.approx(0.0713, abs=1e-4)
    assert Levels(0.9, 0.9).of(torch.zeros(1), 3 * 8 * 32 * 32).item() == pytest.approx(a * 0.9 / (1 + (a - 1) * 0.9))
    assert Levels(0.9, 0.9).of(torch.zeros(1), 3 * 8 * 32 * 32).item() == pytest.approx(0.391, abs=1e-3)
    torch.testing.assert_close(Levels(0.2, 0.6, reference=False).of(u, 10), torch.tensor([0.2, 0.4, 0.6]))


def test_paired_accuracy_counts_the_pairs_a_discriminator_orders_right():
    from onestep.methods.critic import paired_accuracy

    real, fake = (
        torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0], [-1.0, -1.0]]),
        torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]),
    )
    assert paired_accuracy(real, fake) == 0.5
    assert paired_accuracy(fake, fake) == 0.0  # a tie is not a separation
    assert paired_accuracy(torch.tensor([2.0, 3.0]), torch.tensor([1.0, 1.0])) == 1.0
