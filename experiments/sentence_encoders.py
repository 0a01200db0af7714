"""The prompt as one sentence vector, for `experiments/camera_probes.py finetune --text sentence|mpnet`
(docs/log/2026-12-06-text-encoder.md): does a model that reads a sentence embedding, MiniLM's or
all-mpnet-base-v2's, follow held-out words better than one that reads MiniLM's token states?"""

from __future__ import annotations

import torch

from onestep.models.text import TextEncoder
from onestep.models.video_dit import VideoDiT
from onestep.types import Cond
from onestep.world.clip import WorldConfig
from onestep.world.stream import batch_at

CONFIG = WorldConfig(8, 32)


class SentenceEncoder(TextEncoder):
    """The prompt as one token: its pooled (masked-mean) MiniLM embedding, the sentence embedding
    MiniLM was trained to make, in place of the token states (`--text sentence`)."""

    def __call__(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        text, mask = super().__call__(prompts)
        return VideoDiT.pooled_text(Cond(text, mask))[:, None], torch.ones(len(prompts), 1, dtype=torch.bool)

    def null(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self([""] * batch)


class MpnetSentenceEncoder(SentenceEncoder):
    """`--text mpnet`: all-mpnet-base-v2's mean-pooled embedding (from the folder `--mpnet`), mapped
    into MiniLM's pooled space by a ridge regression fitted on 3,072 training prompts of both tracks,
    as the one token a `--text sentence` model reads."""

    def __init__(self, path: str, max_length: int = 80):
        super().__init__(max_length=max_length)
        self.mp_tok, self.mp = self.load(path)
        self.mp_cache: dict[str, torch.Tensor] = {}
        fit_prompts = [
            p
            for step in range(192)
            for p in batch_at(
                step, seed=0, batch_size=16, tracks={"shapes": 0.6, "photocam": 0.4}, config=CONFIG
            ).prompts
        ]
        x, y = self.mpnet(fit_prompts), super().__call__(fit_prompts)[0][:, 0]
        x1 = torch.cat([x, torch.ones(len(x), 1)], 1)
        self.map = torch.linalg.solve(x1.T @ x1 + 1e-2 * torch.eye(x1.shape[1]), x1.T @ y)
        print(
            f"mpnet -> MiniLM map: relative error {((x1 @ self.map - y).norm() / y.norm()).item():.3f} on its "
            f"{len(x)} prompts",
            flush=True,
        )

    @staticmethod
    def load(path: str):
        """(tokenizer, model) of all-mpnet-base-v2 from a folder in the transformers format."""
        from transformers import AutoModel, AutoTokenizer

        return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()

    @staticmethod
    @torch.no_grad()
    def embed(tokenizer, model, prompts: list[str], max_length: int) -> torch.Tensor:
        """The mean-pooled embedding (sentence-transformers' pooling for this model), (N, 768)."""
        out = []
        for i in range(0, len(prompts), 128):
            t = tokenizer(
                prompts[i : i + 128], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            h, m = model(**t).last_hidden_state, t["attention_mask"][..., None].float()
            out.append((h * m).sum(1) / m.sum(1))
        return torch.cat(out)

    def mpnet(self, prompts: list[str]) -> torch.Tensor:
        missing = sorted({p for p in prompts if p not in self.mp_cache})
        if missing:
            self.mp_cache.update(zip(missing, self.embed(self.mp_tok, self.mp, missing, self.max_length)))
        return torch.stack([self.mp_cache[p] for p in prompts])

    def __call__(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.mpnet(prompts)
        return (torch.cat([x, torch.ones(len(x), 1)], 1) @ self.map)[:, None], torch.ones(
            len(prompts), 1, dtype=torch.bool
        )
