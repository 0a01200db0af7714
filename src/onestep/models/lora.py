"""The fake score as a LoRA (peft) on the frozen teacher's weights: one set of base weights serves
both scores, no second full copy. peft initialises B = 0, so the fake score equals the teacher
exactly at step 0. The same wrapper on a frozen copy of the weights is a LoRA student and its EMA
(`model.student_lora_rank`, train/roles.py).

The adapter belongs to the `fake_score` role (`LoraScore`), not to the teacher: it is injected into
the teacher's modules but switched off there, and switched on only for the duration of a
`LoraScore` call, so the teacher role is always the teacher and no caller has to remember anything.
The LoRA's target modules are the model adapter's `lora_targets`.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from onestep.types import Cond, ModelSpec


def is_lora_layer(module: nn.Module) -> bool:
    """Whether `module` is a layer peft injected. peft is imported only when a LoRA is built (it takes
    seconds, transformers with it), and no module can be one of its layers before that."""
    tuners = sys.modules.get("peft.tuners.tuners_utils")
    return tuners is not None and isinstance(module, tuners.BaseTunerLayer)


def _layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if is_lora_layer(m)]


def _toggle(model: nn.Module, enabled: bool) -> None:
    """peft's enable_adapters also sets the adapters' requires_grad; the caller's flags are kept."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for layer in _layers(model):
        layer.enable_adapters(enabled)
    for p, flag in flags:
        p.requires_grad_(flag)


@contextmanager
def adapter_on(model: nn.Module):
    _toggle(model, True)
    try:
        yield model
    finally:
        _toggle(model, False)


class LoraScore(nn.Module):
    """fake_score role: the base model (the teacher's weights) plus a zero-initialised LoRA.

    parameters() and state_dict() are the LoRA's alone; the base stays the teacher role's.
    """

    def __init__(self, base: nn.Module, rank: int, alpha: float | None = None, name: str = "fake"):
        super().__init__()
        if _layers(base):
            raise ValueError("this model already carries a LoRA: build one fake score per teacher")
        from peft import LoraConfig, inject_adapter_in_model

        self.__dict__["base"] = base  # not a submodule: its weights are the teacher's
        config = LoraConfig(r=rank, lora_alpha=alpha or rank, target_modules=base.lora_targets, lora_dropout=0.0)
        inject_adapter_in_model(config, base, adapter_name=name)
        self.adapter, self.rank = name, rank
        _toggle(base, False)
        self.names = [n for n, _ in base.named_parameters() if "lora_" in n and f".{name}." in n]
        self.relink()

    def relink(self) -> None:
        """Point at the adapter's parameters as the base holds them now (after sharding replaced them)."""
        lookup = dict(self.base.named_parameters())
        self.lora = nn.ParameterList([lookup[n] for n in self.names])

    # -- the model border, forwarded to the base with the adapter on -------------------------------

    @property
    def spec(self) -> ModelSpec:
        return self.base.spec

    @property
    def lora_targets(self) -> str:
        return self.base.lora_targets

    @property
    def blocks(self) -> nn.ModuleList:
        return self.base.blocks

    @property
    def causal_block(self) -> int:
        """The base's causal block (a block-causal LoRA student), 0 for a bidirectional base."""
        from onestep.causal import causal_block

        return causal_block(self.base)

    def forward(self, x_t: Tensor, t: Tensor, cond: Cond, *segment) -> Tensor:
        """v for x_t; `segment` (frame_offset, cache) is a block-causal base's segment (causal.py)."""
        with adapter_on(self.base):
            return self.base(x_t, t, cond, *segment)

    def features(self, x_t: Tensor, t: Tensor, cond: Cond, layers: tuple[int, ...]) -> list[Tensor]:
        with adapter_on(self.base):
            return self.base.features(x_t, t, cond, layers)

    def condition_image(self, cond: Cond):
        return self.base.condition_image(cond)

    # -- checkpoints: the adapter weights by their names in the base ---------------------------------

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        out = {} if destination is None else destination
        for n, p in zip(self.names, self.lora):
            out[prefix + n] = p if keep_vars else p.detach()
        return out

    def load_state_dict(self, state: dict, strict: bool = True, assign: bool = False):
        missing = [n for n in self.names if n not in state]
        if strict and (missing or set(state) - set(self.names)):
            raise KeyError(
                f"LoRA state does not match this fake score: missing {missing[:3]}, unexpected "
                f"{sorted(set(state) - set(self.names))[:3]}"
            )
        for n, p in zip(self.names, self.lora):
            if n in state:
                p.data.copy_(state[n])

    # -- export: the adapter merged into the base, or on its own in diffusers' LoRA layout ----------

    @torch.no_grad()
    def merged_state_dict(self) -> dict[str, Tensor]:
        """The base module's state with W + scale * B A in place of each adapted weight (nothing modified)."""
        own = {}
        for name, tensor in self.base.state_dict().items():
            if "lora_" not in name:
                own[name.replace(".base_layer", "")] = tensor.clone()
        for name, module in self.base.named_modules():
            if is_lora_layer(module) and self.adapter in module.lora_A:
                own[f"{name}.weight"] += module.get_delta_weight(self.adapter).to(own[f"{name}.weight"].dtype)
        return own

    def adapter_state_dict(self) -> dict[str, Tensor]:
        """The adapter as peft names it without its adapter name ("...to_q.lora_A.weight")."""
        return {n.replace(f".{self.adapter}.", "."): p.detach() for n, p in zip(self.names, self.lora)}
