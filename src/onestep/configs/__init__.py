"""Typed dataclass configs, presets as Python functions, unknown keys are errors (STYLE.md 8)."""
