"""onestep: distill multi-step flow-matching video diffusion models into one-step generators."""

__version__ = "0.1.0"
