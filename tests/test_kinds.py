"""The model-kind contract every registered kind passes (the registry `models.kinds.KINDS` drives it, as
`methods.METHODS` drives tests/test_methods.py), and a new kind added as one bundle that `onestep
distill`, `sample`, `eval` and `plan` run with no other file touched."""

import dataclasses
import re

import pytest
import torch
from typer.testing import CliRunner

from onestep import paths
from onestep.cli import app
from onestep.eval import suite
from onestep.models import kinds, wan_tiny
from onestep.models.dit_folder import DiTFolder
from onestep.models.io import load_model, read_config
from onestep.models.kinds import KINDS, ModelKind, kind_of, kind_of_model
from onestep.models.video_dit import DiTConfig, VideoDiT
from onestep.parallel.activations import example_inputs
from tests.tiny import TEACHER_EXTRA, tiny_teacher_dir

# A tiny folder of every registered kind and the latent size it loads at (None: its config's). A kind
# added to the registry without an entry here fails `test_every_registered_kind_is_under_contract`.
TINY = {
    "video_dit": (tiny_teacher_dir, None),
    "wan": (lambda path: wan_tiny.build(path, i2v=True), (3, 4, 4)),
}
FUNCTIONS = ("detect", "read_config", "load", "meta", "save", "weights_hash", "example_cond")


def test_every_registered_kind_is_under_contract():
    assert set(TINY) == set(KINDS)
    for name, kind in KINDS.items():
        assert isinstance(kind, ModelKind) and kind.name == name and kind.title
        assert all(callable(getattr(kind, f)) for f in FUNCTIONS), name
        assert all(f is None or callable(f) for f in (kind.sequence_parallel, kind.codec, kind.export)), name
        assert kind.data in ("world", "cache")
        assert kind.data == "world" or kind.codec is not None, "`onestep prepare` writes a cache with the codec"
        assert all(kinds.published(p) is kind for p in kind.published)


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, tmp_path_factory):
    make, latent = TINY[request.param]
    return KINDS[request.param], make(tmp_path_factory.mktemp(request.param) / "model"), latent


def load(kind: ModelKind, folder, latent):
    return kind.load(folder, device="cpu", dtype=None, latent_size=latent, causal_block=None, strict=True)


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_a_folder_is_its_own_kinds_alone_and_loads_as_it(tiny):
    kind, folder, latent = tiny
    assert kind_of(folder) is kind and [k.name for k in KINDS.values() if k.detect(folder)] == [kind.name]
    assert kind.read_config(folder)["kind"] == kind.name
    model = load(kind, folder, latent)
    assert model.spec.kind == kind.name and kind_of_model(model) is kind
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    meta = kind.meta(folder, latent)
    assert all(p.is_meta for p in meta.parameters()) and count(meta) == count(model)
    x, t, cond = example_inputs(model, 1, "cpu", torch.float32)  # the kind's example condition fits its model
    assert model(x, t, cond).shape == x.shape


def test_save_load_round_trip_and_a_stable_weights_hash(tiny, tmp_path):
    kind, folder, latent = tiny
    model = load(kind, folder, latent)
    digest = kind.weights_hash(folder)
    assert re.fullmatch("[0-9a-f]{16}", digest) and kind.weights_hash(folder) == digest
    copy = kind.save(tmp_path / "copy", model, {"role": "student"})
    assert kind_of(copy) is kind and kind.read_config(copy)["role"] == "student"
    again = load(kind, copy, latent).state_dict()
    assert all(torch.equal(v, again[k]) for k, v in model.state_dict().items())
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert kind.weights_hash(kind.save(tmp_path / "moved", model)) != kind.weights_hash(copy)


def test_a_codec_inverts_its_own_compression(tiny):
    kind, folder, latent = tiny
    if kind.codec is None:
        pytest.skip(f"the {kind.title} samples pixels")
    assert kind.codec.in_folder(folder)
    assert kind.codec.latent_size(*kind.codec.pixel_size(latent)) == latent


# ---------------------------------------------------------------------------------------------
# A new kind: the built-in DiT's network under another name, with larger patches


class PatchDiT(VideoDiT):
    """The network of the new kind: its spec names it."""

    @property
    def spec(self):
        return dataclasses.replace(super().spec, kind="patch_dit")


def invoke(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_a_new_kind_is_one_bundle(monkeypatch, tmp_path):
    """One KINDS entry (what a new kind's one file and one line add) and the commands take its folders."""
    folder = DiTFolder("patch_dit", PatchDiT)
    bundle = dataclasses.replace(
        KINDS["video_dit"],
        name="patch_dit",
        title="patch DiT",
        detect=folder.detect,
        read_config=folder.read_config,
        load=folder.load,
        meta=folder.meta,
        save=folder.save,
    )
    monkeypatch.setitem(KINDS, "patch_dit", bundle)
    for name, value in (("ANCHOR_CLIPS", 6), ("BOOTSTRAP", 50), ("DIVERSITY_CONDITIONS", 2), ("DIVERSITY_SEEDS", 2)):
        monkeypatch.setattr(suite, name, value)  # a small evaluation, as tests/test_eval.py runs it
    monkeypatch.setattr(paths, "CACHE", tmp_path / "cache")
    torch.manual_seed(0)
    network = PatchDiT(DiTConfig(dim=32, depth=3, heads=2, patch=(2, 8, 8)))
    with torch.no_grad():
        for p in network.parameters():
            p.add_(0.05 * torch.randn_like(p))
    teacher = folder.save(tmp_path / "teacher", network, TEACHER_EXTRA)

    invoke("distill", "pose-test", "--teacher", teacher, "--out", tmp_path / "run")
    student = tmp_path / "run" / "student"
    model, config = load_model(student)
    assert config["kind"] == "patch_dit" and isinstance(model, PatchDiT) and model.spec.patch == (2, 8, 8)
    invoke("sample", "--model", student, "--prompt", "a red circle moves right", "--out", tmp_path / "v.gif")
    assert (tmp_path / "v.gif").stat().st_size > 0
    invoke("eval", "--model", student, "--track", "shapes", "--n", 2, "--out", tmp_path / "ev")
    assert read_config(student)["kind"] == "patch_dit" and (tmp_path / "ev" / "metrics.json").is_file()
    assert "teacher" in invoke("plan", "pose-test", "--gpus", 1, "--teacher", teacher)
