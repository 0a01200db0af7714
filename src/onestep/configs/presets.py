"""Every distillation preset by name: POSE's and ASD's (configs/distill.py) and the paper's comparison
(configs/baselines.py)."""

from onestep.configs import baselines, distill

PRESETS = {**distill.PRESETS, **baselines.PRESETS}
