"""The seams hold: imports flow one way (flow -> samplers -> methods -> train -> commands), methods
see models only through the adapter, and randomness is derived in one module."""

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "onestep"


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def modules(folder: str) -> list[Path]:
    return sorted((SRC / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("methods"), ids=lambda p: p.name)
def test_methods_see_models_only_through_the_adapter(path):
    found = imports(path)
    assert not [
        m
        for m in found
        if m.startswith(
            ("onestep.models.video_dit", "onestep.train", "onestep.commands", "onestep.configs", "onestep.data")
        )
    ], found
    assert not re.search(r"DIT_TARGETS|DiTConfig|VideoDiT", path.read_text())


# the concrete model modules: the built-in DiT (video_dit, dit_folder) and Wan (wan, wan_causal, wan_pipeline, wan_tiny)
CONCRETE_MODELS = ("onestep.models.video_dit", "onestep.models.dit_folder", "onestep.models.wan")


@pytest.mark.parametrize(
    "path",
    [*modules("commands"), *modules("parallel"), *modules("eval"), SRC / "models" / "io.py"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_commands_see_models_only_through_their_kind(path):
    """commands/, parallel/, eval/ and models/io.py ask a kind's bundle (models/kinds.py), never a
    concrete model module."""
    found = [m for m in imports(path) if m.startswith(CONCRETE_MODELS)]
    assert not found, found


@pytest.mark.parametrize(
    "layer,forbidden", [("train", "onestep.commands"), ("data", "onestep.train"), ("models", "onestep.methods")]
)
def test_imports_flow_one_way(layer, forbidden):
    for path in modules(layer):
        assert not [m for m in imports(path) if m.startswith(forbidden)], f"{path.name} imports {forbidden}"


def test_the_core_names_no_model_kind():
    for name in ("types.py", "flow.py", "samplers.py", "train/trainer.py", "seeding.py"):
        found = imports(SRC / name)
        assert not [m for m in found if m.startswith("onestep.models")], f"{name}: {found}"


def test_generators_are_made_only_by_the_seeding_module():
    """Every torch.Generator of the library is made in seeding.py (tests and scripts may make their own)."""
    offenders = [
        p.relative_to(SRC)
        for p in SRC.rglob("*.py")
        if p.name != "seeding.py" and re.search(r"torch\.Generator\(|SeedSequence\(", p.read_text())
    ]
    assert offenders == []


def test_training_never_reads_the_held_out_phrasings():
    """eval/paraphrase.py is the evaluation's alone: nothing that trains or makes data imports it."""
    for path in SRC.rglob("*.py"):
        if path.parent.name in ("world", "train", "methods", "data", "models", "configs") or path.name in (
            "distill.py",
            "teacher.py",
        ):
            assert not re.search(r"import .*\bparaphrase\b|eval\.paraphrase", path.read_text()), path.relative_to(SRC)


def test_report_modules_share_one_leaf():
    """eval/render.py (tables, figures, the page) imports no report module, and no report module imports
    another report module at import time but the entry point `report.py`, which may call the others."""
    assert not [m for m in imports(SRC / "eval" / "render.py") if "report" in m]
    for name in ("report_stream.py", "report_compare.py"):
        found = imports(SRC / "eval" / name)
        assert not [m for m in found if m.startswith("onestep.eval.report")], f"{name}: {found}"
