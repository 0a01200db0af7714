"""LoRA adapters (peft) on our Denoisers: the fake score of VSD is the teacher plus a zero-initialised
LoRA, so one set of base weights serves both scores (no second full copy). peft initialises B = 0,
so the adapted model equals the teacher exactly at step 0; `adapters_disabled` gives the teacher back.
"""

from __future__ import annotations

from contextlib import contextmanager

from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn

# Every linear map inside the transformer blocks of the built-in DiT (attention, cross-attention, MLP).
DIT_TARGETS = r".*blocks\.\d+\.(attn\.qkv|attn\.out|cross\.q|cross\.kv|cross\.out|mlp\.0|mlp\.2)"


def add_lora(model: nn.Module, rank: int, alpha: float | None = None, targets: str = DIT_TARGETS, name: str = "fake") -> nn.Module:
    """Inject a LoRA adapter in place; base weights stay frozen and untouched."""
    config = LoraConfig(r=rank, lora_alpha=alpha or rank, target_modules=targets, lora_dropout=0.0)
    return inject_adapter_in_model(config, model, adapter_name=name)


def lora_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if "lora_" in n}


def has_lora(model: nn.Module) -> bool:
    return any(isinstance(m, BaseTunerLayer) for m in model.modules())


@contextmanager
def adapters_disabled(model: nn.Module):
    """Run the base model (the teacher) with every adapter switched off; requires_grad is restored."""
    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield model
    finally:
        for layer in layers:
            layer.enable_adapters(True)
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])


class LoraState:
    """Stateful for checkpoints: only the adapter weights of a model (the base is the teacher)."""

    def __init__(self, model: nn.Module):
        self.model = model

    def state_dict(self) -> dict:
        return {n: p.detach() for n, p in lora_parameters(self.model).items()}

    def load_state_dict(self, state: dict) -> None:
        params = lora_parameters(self.model)
        for n, v in state.items():
            params[n].data.copy_(v)
