"""Every distillation preset by name: what a user runs (POSE's and ASD's, configs/recipes.py; the
paper's comparison, configs/baselines.py), and apart from them the tests' tiny runs (configs/testing.py),
which run by name but are listed nowhere."""

from onestep.configs import baselines, recipes, testing
from onestep.configs.distill import DistillConfig
from onestep.errors import UserError

PRESETS = {**recipes.PRESETS, **baselines.PRESETS}
TEST_PRESETS = testing.PRESETS


def preset(name: str) -> DistillConfig:
    """A fresh config of the preset `name`, or a one-line error listing the product presets."""
    made = PRESETS.get(name) or TEST_PRESETS.get(name)
    if made is None:
        raise UserError(f"unknown distillation preset {name!r}: choose one of {', '.join(PRESETS)}")
    return made()
