"""Config plumbing: dotted overrides with type checks, and dicts for config.json."""

from __future__ import annotations

import dataclasses
import json
import typing

from onestep.errors import UserError


def to_dict(config) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _coerce(value, kind, key: str):
    origin = typing.get_origin(kind)
    if kind is bool:
        if isinstance(value, str):
            if value.lower() in ("true", "1", "yes"):
                return True
            if value.lower() in ("false", "0", "no"):
                return False
        if isinstance(value, bool):
            return value
        raise UserError(f"config key {key} takes true or false, not {value!r}")
    if kind in (int, float, str):
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise UserError(f"config key {key} takes a {kind.__name__}, not {value!r}") from None
    if origin in (tuple, list) or kind in (tuple, list):
        if isinstance(value, str):
            value = json.loads(value) if value.startswith("[") else [v for v in value.split(",") if v]
        args = typing.get_args(kind)
        inner = args[0] if args else str
        return (
            tuple(_coerce(v, inner, key) for v in value)
            if origin is tuple or kind is tuple
            else [_coerce(v, inner, key) for v in value]
        )
    if origin is dict or kind is dict:
        return json.loads(value) if isinstance(value, str) else dict(value)
    return value


def override(config, overrides: dict[str, object]):
    """A copy of `config` with dotted keys replaced ("optim.lr": 1e-4); unknown keys raise UserError.

    A phase of a run is addressed by position or name, with or without the "phases." prefix.
    """
    for key, value in overrides.items():
        config = _set(config, key.split("."), value, key)
    return config


def _set(config, path: list[str], value, full: str):
    name = path[0]
    if isinstance(config, dict):  # a mapping section (a phase's role_optim): keys are free, values JSON or text
        inner = _set(config.get(name, {}), path[1:], value, full) if len(path) > 1 else _json_or_text(value)
        return {**config, name: inner}
    if isinstance(config, (list, tuple)):
        # a list of sections (e.g. phases) is indexed by position or by each section's `name`
        names = [getattr(c, "name", None) for c in config]
        index = int(name) if name.isdigit() else names.index(name) if name in names else None
        if index is None or not 0 <= index < len(config):
            raise UserError(
                f"unknown config key {full!r}: {name!r} is not one of {', '.join(map(str, names))} or an index below "
                f"{len(config)}"
            )
        items = list(config)
        items[index] = _set(items[index], path[1:], value, full) if len(path) > 1 else value
        return type(config)(items)
    if not dataclasses.is_dataclass(config):
        raise UserError(f"unknown config key {full!r}: {'.'.join(path)} is not a section")
    fields = {f.name: f for f in dataclasses.fields(config)}
    phase_names = [getattr(p, "name", None) for p in getattr(config, "phases", [])]
    if name not in fields and name in phase_names:  # shorthand: "priming.steps" = "phases.priming.steps"
        path, name = ["phases", *path], "phases"
    if name not in fields:
        hint = [
            f"{f}.{name}"
            for f in sorted(fields)
            if dataclasses.is_dataclass(getattr(config, f))
            and name in {g.name for g in dataclasses.fields(getattr(config, f))}
        ]
        raise UserError(
            f"unknown config key {full!r}: "
            + (f"did you mean {' or '.join(hint)}?" if hint else f"valid keys here are {', '.join(sorted(fields))}")
        )
    current = getattr(config, name)
    if len(path) > 1:
        return dataclasses.replace(config, **{name: _set(current, path[1:], value, full)})
    kind = typing.get_type_hints(type(config))[name]
    if kind is object or typing.get_origin(kind) is typing.Union:
        kind = type(current)  # loosely typed fields take the type of their current value
    return dataclasses.replace(config, **{name: _coerce(value, kind, full)})


def _json_or_text(value):
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def parse_overrides(items: list[str]) -> dict[str, str]:
    """["optim.lr=1e-4", "steps=10"] -> {"optim.lr": "1e-4", "steps": "10"}."""
    out = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"override {item!r} has no '=': write key=value, e.g. steps=100")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
