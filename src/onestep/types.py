"""The shared vocabulary: the condition a model takes, the model border every model kind is adapted
to, the roles of a run, and the protocol every method follows.

Shapes: videos are (B, C, F, H, W) in the model's latent space (pixels for the built-in DiT); times
are (B,) or (B, F) for per-frame (causal) times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from onestep.seeding import Draws

# ---------------------------------------------------------------------------------------------
# The condition


@dataclass
class Cond:
    """What a model is conditioned on; every field is a tensor or None, so `map` reaches them all.

    text:          (B, L, D) token states of the prompt, any L (from the model's own encoder).
    text_mask:     (B, L) bool, True where a token is real.
    latent:        the condition latent of image-to-video, in the model's layout: the first frame
                   (B, C, H, W) for the built-in DiT; None for text-to-video.
    latent_mask:   (B,) float, 1 where the sample has its condition latent, 0 where it is dropped.
    image_tokens:  (B, Li, Di) image-encoder tokens of the first frame (CLIP for Wan I2V), or None.
    neg_text:      (B, L', D) the negative (or empty) prompt of classifier-free guidance, and its
    neg_text_mask: (B, L') mask; `uncond()` is the condition with these in place of the text.
    """

    text: Tensor
    text_mask: Tensor
    latent: Tensor | None = None
    latent_mask: Tensor | None = None
    image_tokens: Tensor | None = None
    neg_text: Tensor | None = None
    neg_text_mask: Tensor | None = None

    def __post_init__(self):
        if self.latent is not None and self.latent_mask is None:
            self.latent_mask = torch.ones(self.latent.shape[0], device=self.latent.device)

    @property
    def batch_size(self) -> int:
        return self.text.shape[0]

    def map(self, fn) -> Cond:
        """Apply fn to every tensor field (None stays None)."""
        return Cond(
            **{f.name: None if (v := getattr(self, f.name)) is None else fn(v) for f in dataclasses.fields(self)}
        )

    def to(self, device) -> Cond:
        return self.map(lambda v: v.to(device))

    def index(self, idx) -> Cond:
        return self.map(lambda v: v[idx])

    def repeat(self, n: int) -> Cond:
        """Each sample repeated n times in a row: (B, ...) -> (B * n, ...)."""
        return self.map(lambda v: v.repeat_interleave(n, dim=0))

    def with_text(self, text: Tensor, text_mask: Tensor) -> Cond:
        return dataclasses.replace(self, text=text, text_mask=text_mask)

    def with_negative(self, text: Tensor, text_mask: Tensor) -> Cond:
        """The same condition carrying this negative prompt, (1, L', D) or (B, L', D)."""
        B = self.batch_size
        return dataclasses.replace(self, neg_text=text.expand(B, -1, -1), neg_text_mask=text_mask.expand(B, -1))

    def uncond(self) -> Cond:
        """The unconditional branch of CFG: the negative prompt in place of the text; the condition
        latent and image tokens kept (Wan's and our I2V keep the image in both branches)."""
        if self.neg_text is None:
            raise ValueError(
                "this condition carries no negative prompt: build it with Cond.with_negative before guided sampling"
            )
        return self.with_text(self.neg_text, self.neg_text_mask)

    @staticmethod
    def cat(conds: list[Cond]) -> Cond:
        """Concatenate along the batch; token sequences are right-padded to the longest length, and a
        missing condition latent becomes zeros with mask 0."""

        def pad(xs: list[Tensor], value) -> Tensor:
            length = max(x.shape[1] for x in xs)
            return torch.cat(
                [
                    x
                    if x.shape[1] == length
                    else torch.cat([x, x.new_full((x.shape[0], length - x.shape[1], *x.shape[2:]), value)], 1)
                    for x in xs
                ]
            )

        def tokens(name: str, mask_name: str | None):
            if all(getattr(c, name) is None for c in conds):
                return None, None
            if any(getattr(c, name) is None for c in conds):
                raise ValueError(f"Cond.cat: some conditions have {name} and some do not")
            return pad([getattr(c, name) for c in conds], 0.0), None if mask_name is None else pad(
                [getattr(c, mask_name) for c in conds], False
            )

        text, mask = tokens("text", "text_mask")
        neg, neg_mask = tokens("neg_text", "neg_text_mask")
        image_tokens, _ = tokens("image_tokens", None)
        latents = [c.latent for c in conds]
        if all(x is None for x in latents):
            return Cond(text, mask, image_tokens=image_tokens, neg_text=neg, neg_text_mask=neg_mask)
        ref = next(x for x in latents if x is not None)
        latent = torch.cat(
            [
                torch.zeros((c.batch_size, *ref.shape[1:]), dtype=ref.dtype, device=ref.device)
                if c.latent is None
                else c.latent
                for c in conds
            ]
        )
        latent_mask = torch.cat(
            [torch.zeros(c.batch_size, device=ref.device) if c.latent is None else c.latent_mask for c in conds]
        )
        return Cond(text, mask, latent, latent_mask, image_tokens, neg, neg_mask)


# ---------------------------------------------------------------------------------------------
# The model border


@dataclass(frozen=True)
class ModelSpec:
    """What a method may know of a model: its latent video, tokens and condition, never its class.

    channels:      latent channels of the video (3: the built-in DiT's pixels; 16: Wan's VAE).
    frames, height, width: the latent video size it takes.
    patch:         (frames, rows, columns) per token; grid = tokens along each axis.
    dim, depth:    the width of the block tokens and the number of blocks (feature taps index them).
    text_dim:      the width of the text tokens in Cond.text.
    cond_channels: channels of the first-frame condition latent `condition_image` returns (0: none).
    """

    kind: str
    channels: int
    frames: int
    height: int
    width: int
    patch: tuple[int, int, int]
    dim: int
    depth: int
    text_dim: int
    cond_channels: int

    @property
    def grid(self) -> tuple[int, int, int]:
        pf, ph, pw = self.patch
        return self.frames // pf, self.height // ph, self.width // pw

    @property
    def video_shape(self) -> tuple[int, int, int, int]:
        return self.channels, self.frames, self.height, self.width


@runtime_checkable
class VideoModel(Protocol):
    """The adapter every model kind provides (models/video_dit.py today): velocity v = noise - x0.

    __call__(x_t (B, C, F, H, W), t (B,) or (B, F) in [0, 1], cond) -> v (B, C, F, H, W).
    features(x_t, t, cond, layers) -> [(B, N, D)]: the tokens after each listed block, in order; the
        forward stops after the last of them (a truncated forward: nothing later is run).
    condition_image(cond) -> (B, cond_channels, H, W) or None: the first-frame condition latent, for
        heads that read the image.
    lora_targets: the module names (a regex) a LoRA adapts.
    blocks: the ModuleList that sharding wraps per block.
    causal_block: latent frames per block of a block-causal model (causal.py), 0 for a bidirectional one.
    """

    spec: ModelSpec
    lora_targets: str
    blocks: nn.ModuleList
    causal_block: int

    def __call__(self, x_t: Tensor, t: Tensor, cond: Cond) -> Tensor: ...

    def features(self, x_t: Tensor, t: Tensor, cond: Cond, layers: tuple[int, ...]) -> list[Tensor]: ...

    def condition_image(self, cond: Cond) -> Tensor | None: ...


Denoiser = VideoModel  # what samplers call: anything with the VideoModel call


# ---------------------------------------------------------------------------------------------
# Data, roles and methods


@dataclass
class Pairs:
    """The teacher's ODE solutions (eps_i, c_i) -> x0_i of a run (data/pairs.py), read-only.

    noise, x0: (N, C, F, H, W); cond: the N conditions, without negative prompts.
    """

    noise: Tensor
    x0: Tensor
    cond: Cond

    def __len__(self) -> int:
        return self.noise.shape[0]

    def draw(self, n: int, d: Draws) -> tuple[Tensor, Tensor, Cond]:
        """n pairs drawn uniformly with replacement, one per batch row: (noise, x0, cond)."""
        idx = d.randint(len(self), n)
        pick = lambda v: v[idx.to(v.device)]  # noqa: E731
        return pick(self.noise), pick(self.x0), self.cond.map(pick)


@dataclass
class Batch:
    """What a method's step reads: video (B, C, F, H, W), its condition (with the negative prompt),
    and the run's ODE pairs when the data config names them (the same object every step)."""

    video: Tensor
    cond: Cond
    pairs: Pairs | None = None

    def chunk(self, k: int, n: int) -> Batch:
        """The k-th of n equal parts along the batch (a rank's or a micro-batch's share of a global batch)."""
        b = self.video.shape[0] // n
        part = slice(k * b, (k + 1) * b)
        return Batch(self.video[part], self.cond.index(part), self.pairs)


class DataSource(Protocol):
    """A run's batches: `source(start)` yields the Batch of every step from `start` on, a function of
    (seed, step) so a resumed run reads what an uninterrupted one would (data/world.py, data/cache.py)."""

    def __call__(self, start: int) -> Iterator[Batch]: ...

    def shard(self, chunks: list[int], n_chunks: int) -> bool:
        """From now on make or read only these chunks of each global batch (this process's share);
        False: this source cannot, and yields the global batch for the trainer to slice."""
        ...


class Roles(Mapping[str, nn.Module]):
    """The networks of a run by role name, each owned by its role; built from model directories, never
    copied. Three names are reserved and read as attributes:

    teacher: frozen; always the teacher (a LoRA on its weights belongs to another role and is off
             whenever the teacher is called); None while a teacher is itself trained.
    student: the generator being trained.
    ema:     the student's EMA; read-only (never receives gradients).

    Every other role is named by the method that declares it (`Method.roles`, e.g. "fake_score",
    "disc_head") and read as `roles[name]`; `name in roles` says whether the run has it.
    """

    RESERVED = ("teacher", "student", "ema")

    def __init__(self, teacher: VideoModel | None, student: VideoModel, ema: VideoModel, **others: nn.Module):
        self.teacher, self.student, self.ema = teacher, student, ema
        self._others: dict[str, nn.Module] = {}
        for name, module in others.items():
            self.add(name, module)

    def add(self, name: str, module: nn.Module) -> None:
        """A method's role, once: a reserved name or a second module under one name is a bug."""
        if name in self.RESERVED or name in self._others:
            raise ValueError(f"role {name!r} is reserved or already present")
        self._others[name] = module

    def __getitem__(self, name: str) -> nn.Module:
        module = getattr(self, name) if name in self.RESERVED else self._others.get(name)
        if module is None:
            raise KeyError(f"no role {name!r} in this run (roles: {', '.join(self)})")
        return module

    def __iter__(self):
        yield from (name for name in self.RESERVED if getattr(self, name) is not None)
        yield from self._others

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def present(self) -> dict[str, nn.Module]:
        """{name: module} of every role the run has, the reserved ones first."""
        return dict(self.items())


@dataclass
class LossOutput:
    """A scalar loss to backpropagate into one optimiser group, and named floats to log (`method/metric`)."""

    loss: Tensor
    logs: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclass
class Update:
    """One optimiser step of `group` (a role name) on `loss() -> LossOutput`, computed when the
    trainer has opened that group's gradients, after the step's earlier updates were applied."""

    group: str
    loss: Callable[[], LossOutput]


Rng = Callable[[], "Draws"]  # the next loss's row-keyed random numbers (seeding.streams), on the run's device


@runtime_checkable
class Method(Protocol):
    """A recipe (STYLE.md 3): the roles it needs, the groups it steps, and one training step.

    roles:       {role: how it is built}: "copy" (a trainable copy of the model directory's weights)
                 or "new" (built by `new_role`: a LoRA on the teacher's weights, a discriminator head).
    needs_pairs: whether its losses read the run's ODE pairs (`batch.pairs`).
    new_role(name, roles) -> nn.Module: the modules this method designs itself.
    groups(roles) -> {group: parameters}: one optimiser per group; a group is named by its role.
    step(batch, roles, rng, step) -> [Update]: this step's updates in order (a critic before the
        generator reads the updated critic); each loss calls `rng()` once, so the k-th loss computed
        draws from stream k of (seed, step).
    separation(batch, roles, draws) -> {name: value}: how well its discriminator tells its two
        sides apart on a batch it does not train on ("disc/accuracy", methods/critic.py's paired
        accuracy; {} without a discriminator). The trainer logs it on a held-out batch.
    """

    name: str
    roles: dict[str, str]
    needs_pairs: bool
    causal_student: bool  # True: its student must be block-causal (model.student_causal_block > 0)

    def new_role(self, name: str, roles: Roles) -> nn.Module: ...

    def groups(self, roles: Roles) -> dict[str, list[nn.Parameter]]: ...

    def step(self, batch: Batch, roles: Roles, rng: Rng, step: int) -> list[Update]: ...

    def separation(self, batch: Batch, roles: Roles, draws) -> dict[str, float]: ...
