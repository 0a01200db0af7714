"""Where do a teacher's camera moves fail: the picture, the text encoder, or the model's reading of it?
(docs/log/2026-12-05-camera-probes.md)

    .venv/bin/python scripts/camera_probes.py prompt-loss [--model assets/teacher]
    .venv/bin/python scripts/camera_probes.py text-probe
    .venv/bin/python scripts/camera_probes.py text-distance [--model assets/teacher]
    .venv/bin/python scripts/camera_probes.py finetune --steps 0                      # the model as it is
    .venv/bin/python scripts/camera_probes.py finetune --steps 300 --zoom-share 0.5 --eval zooms
    .venv/bin/python scripts/camera_probes.py finetune --steps 300 --aux 1.0 --eval paraphrase

- `prompt-loss`: for 24 training-split photocam clips of each true move, the flow-matching loss
  (mean over t = 0.5, 0.7, 0.85, 0.95, one noise) with a training-grammar prompt of each of the seven
  moves. A model that reads a move's prompt has its lowest loss on that move's row.
- `text-probe`: a linear classifier (L-BFGS, weight decay `--wd`) on the frozen MiniLM's pooled
  (masked-mean, standardised) prompt embedding, fitted on 4,200 training-grammar camera prompts and
  tested on 1,400 held-out phrasings (eval/paraphrase.py): how much of the move the encoder alone
  keeps in words it never saw, with no video model in the way.
- `text-distance`: for pairs of opposite moves in training words, how far apart the model's inputs
  are: ||a - b|| / mean(||a||, ||b||) of the pooled MiniLM embedding, of it standardised, and of the
  pooled-text part of the model's conditioning vector.
- `finetune`: `--steps` of the teacher's objective from `--model` (batch 16, shapes 0.6 / photocam
  0.4, motion weight 8, lr with a 20-step warmup, AdamW (0.9, 0.99), an EMA of 0.99 evaluated), with
  `--zoom-share` of each batch replaced by training zoom clips, and `--aux` > 0 adding a linear
  move classifier on the model's pooled-text conditioning (cross-entropy on the batch's camera
  prompts). Then 25 Euler steps with CFG 3 (50 NFE) on held-out clips over the external photos:
  `zooms` (the first 40 zoom clips and 24 others of the first 256) or `paraphrase` (the first 128
  non-zoom clips in held-out words), read with the world's camera instrument.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from onestep.eval import paraphrase
from onestep.eval.sample import SamplerSpec, generate_for_clips
from onestep.eval.suite import heldout_clips
from onestep.methods.flow_matching import (
    TimeConfig,
    flow_matching_loss,
    motion_weights,
    sample_times,
)
from onestep.models.io import load_model
from onestep.models.text import TextEncoder
from onestep.models.video_dit import VideoDiT
from onestep.seeding import Draws
from onestep.types import Cond
from onestep.world import instruments, photocam, prompts
from onestep.world import photos as world_photos
from onestep.world.clip import WorldConfig
from onestep.world.stream import batch_at, collate

MOVES = list(prompts.CAMERA_MOVES)
CONFIG = WorldConfig(8, 32)


def train_clips(move: str, n: int) -> list:
    """The first n training-split photocam clips (generators (1, 99), (2, 99), ...) of this move."""
    names, clips, s = list(world_photos.names("train")), [], 0
    while len(clips) < n:
        s += 1
        rng = np.random.default_rng([s, 99])
        name = prompts.pick(rng, names)
        c = photocam.clip_from_photo(world_photos.load(name), name, rng, CONFIG)
        if c.truth["move"] == move:
            clips.append(c)
    return clips


def zoom_clip(seed: int):
    """A training-split zoom clip: draws from one generator (seed, 77) until a zoom comes up."""
    rng, names = np.random.default_rng([seed, 77]), list(world_photos.names("train"))
    while True:
        name = prompts.pick(rng, names)
        c = photocam.clip_from_photo(world_photos.load(name), name, rng, CONFIG)
        if c.truth["move"].startswith("zoom"):
            return c


@torch.no_grad()
def prompt_loss(args) -> None:
    model, _ = load_model(args.model)
    enc = TextEncoder(max_length=80)
    print("true move  " + " ".join(m[:9].rjust(9) for m in MOVES) + "  lowest")
    for move in MOVES:
        clips = train_clips(move, 24)
        b, rng, row = collate(clips), np.random.default_rng(5), {}
        for asked in MOVES:
            text, mask = enc([prompts.camera_prompt(rng, asked, c.truth["speed"]) for c in clips])
            cond, g = Cond(text, mask, b.image), torch.Generator().manual_seed(0)
            losses = [
                flow_matching_loss(
                    model,
                    b.video,
                    cond,
                    torch.full((len(clips),), t),
                    torch.randn(b.video.shape, generator=g),
                )
                .mean()
                .item()
                for t in (0.5, 0.7, 0.85, 0.95)
            ]
            row[asked] = float(np.mean(losses))
        print(f"{move:10s} " + " ".join(f"{row[m]:9.4f}" for m in MOVES) + f"  {min(row, key=row.get)}")


def pooled(enc: TextEncoder, texts: list[str]) -> torch.Tensor:
    """The masked-mean MiniLM embedding of each prompt, as the model pools it, (N, 384)."""
    return torch.cat([VideoDiT.pooled_text(Cond(*enc(texts[i : i + 256]))) for i in range(0, len(texts), 256)])


def text_probe(args) -> None:
    enc, rng = TextEncoder(max_length=80), np.random.default_rng(0)

    def data(make, n):
        texts = [make(rng, MOVES[i % 7], ["slow", "fast"][(i // 7) % 2]) for i in range(n)]
        return texts, torch.tensor([i % 7 for i in range(n)])

    (train_text, y_train), (test_text, y_test) = (
        data(prompts.camera_prompt, 4200),
        data(paraphrase.camera, 1400),
    )
    x_train, x_test = pooled(enc, train_text), pooled(enc, test_text)
    mu, sd = x_train.mean(0), x_train.std(0)
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    w, b = (
        torch.zeros(x_train.shape[1], 7, requires_grad=True),
        torch.zeros(7, requires_grad=True),
    )
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x_train @ w + b, y_train) + args.wd * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        train_acc = ((x_train @ w + b).argmax(1) == y_train).float().mean().item()
        guess = (x_test @ w + b).argmax(1)
    per = " ".join(f"{m}={(guess[y_test == k] == k).float().mean().item():.2f}" for k, m in enumerate(MOVES))
    print(f"weight decay {args.wd}: training grammar {train_acc:.3f}, held-out phrasings {(guess == y_test).float().mean().item():.3f} ({per})")


PAIRS = [
    ("the camera pans left slowly", "the camera pans right slowly"),
    ("the camera tilts up slowly", "the camera tilts down slowly"),
    ("the camera zooms in slowly", "the camera zooms out slowly"),
]


@torch.no_grad()
def text_distance(args) -> None:
    model, _ = load_model(args.model)
    enc = TextEncoder(max_length=80)

    def inputs(prompt: str) -> list[torch.Tensor]:
        text, mask = enc([prompt])
        p = model.pooled_text(Cond(text, mask))
        return [p[0], ((p - model.text_mean) / model.text_std)[0], text_condition(model, Cond(text, mask))[0]]

    for a, b in PAIRS:
        rel = [((x - y).norm() / (0.5 * (x.norm() + y.norm()))).item() for x, y in zip(inputs(a), inputs(b))]
        print(f"{a!r} vs {b!r}: pooled {rel[0]:.3f}, standardised {rel[1]:.3f}, conditioning {rel[2]:.3f}")


def text_condition(model, cond: Cond) -> torch.Tensor:
    """The pooled-text part of the model's per-frame conditioning vector (models/video_dit.py)."""
    p = model.pooled_text(cond)
    return model.pooled_mlp(p) + model.standardised_mlp((p - model.text_mean) / model.text_std)


def evaluate(model, enc: TextEncoder, which: str, tag: str) -> None:
    clips = heldout_clips(
        "photocam",
        256,
        CONFIG,
        world_photos.external(),
        prompts="template" if which == "zooms" else "paraphrase",
    )
    zoom = [c.truth["move"].startswith("zoom") for c in clips]
    if which == "zooms":
        clips = [c for c, z in zip(clips, zoom) if z][:40] + [c for c, z in zip(clips, zoom) if not z][:24]
    else:
        clips = [c for c, z in zip(clips, zoom) if not z][:128]
    t0 = time.time()
    videos = generate_for_clips(model, enc, clips, SamplerSpec("euler", 25, 3.0, 3.0), seed=0)
    read = [instruments.estimate_camera(v)["move"] for v in videos]
    right, total = Counter(), Counter()
    for c, r in zip(clips, read):
        total[c.truth["move"]] += 1
        right[c.truth["move"]] += r == c.truth["move"]
    per = " ".join(f"{m}={right[m]}/{total[m]}" for m in MOVES if total[m])
    print(f"{tag}: camera-move accuracy {sum(right.values()) / len(clips):.3f} ({per}) [{time.time() - t0:.0f} s]")


def finetune(args) -> None:
    model, _ = load_model(args.model)
    enc = TextEncoder(max_length=80)
    if args.steps == 0:
        evaluate(model, enc, args.eval, args.model)
        return
    net, ema = copy.deepcopy(model).train().requires_grad_(True), copy.deepcopy(model)
    head = torch.nn.Linear(net.config.dim, len(MOVES))
    opt = torch.optim.AdamW(
        [*net.parameters(), *head.parameters()],
        lr=args.lr,
        betas=(0.9, 0.99),
        weight_decay=0.0,
    )
    zooms = round(args.zoom_share * 16)
    t0 = time.time()
    for step in range(args.steps):
        b = batch_at(
            10**6 + step,
            seed=0,
            batch_size=16,
            tracks={"shapes": 0.6, "photocam": 0.4},
            config=CONFIG,
            keep_clips=True,
        )
        if zooms:
            b = collate(
                [zoom_clip(step * 100 + i) for i in range(zooms)] + b.clips[zooms:],
                keep_clips=True,
            )
        text, mask = enc(b.prompts)
        null_text, null_mask = enc.null(1)
        drop = torch.rand(16) < 0.1
        cond = Cond(
            torch.where(drop[:, None, None], null_text, text),
            torch.where(drop[:, None], null_mask, mask),
            b.image,
            (torch.rand(16) >= 0.1).float(),
        )
        noise = torch.randn_like(b.video)
        loss = flow_matching_loss(
            net,
            b.video,
            cond,
            sample_times(TimeConfig(), 16, Draws(0, step, 3)),
            noise,
            motion_weights(b.video, 8.0),
        ).mean()
        cam = [i for i, c in enumerate(b.clips) if c.track == "photocam"]
        if args.aux > 0 and cam:
            labels = torch.tensor([MOVES.index(b.clips[i].truth["move"]) for i in cam])
            loss = loss + args.aux * F.cross_entropy(head(text_condition(net, Cond(text[cam], mask[cam], None))), labels) * len(cam) / 16
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 20)
        opt.step()
        with torch.no_grad():
            for pe, pn in zip(ema.parameters(), net.parameters()):
                pe.lerp_(pn, 0.01)
        if step % 50 == 0:
            print(
                f"step {step}: loss {loss.item():.4f} [{time.time() - t0:.0f} s]",
                flush=True,
            )
    evaluate(
        ema.eval(),
        enc,
        args.eval,
        f"{args.steps} steps, zoom share {args.zoom_share}, aux {args.aux}",
    )


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="probe", required=True)
    a = sub.add_parser("prompt-loss")
    a.add_argument("--model", default="assets/teacher")
    a = sub.add_parser("text-probe")
    a.add_argument("--wd", type=float, default=1e-3)
    a = sub.add_parser("text-distance")
    a.add_argument("--model", default="assets/teacher")
    a = sub.add_parser("finetune")
    a.add_argument("--model", default="assets/teacher")
    a.add_argument("--steps", type=int, default=300)
    a.add_argument("--zoom-share", type=float, default=0.0)
    a.add_argument("--aux", type=float, default=0.0)
    a.add_argument("--lr", type=float, default=3e-4)
    a.add_argument("--eval", choices=["zooms", "paraphrase"], default="paraphrase")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    {"prompt-loss": prompt_loss, "text-probe": text_probe, "text-distance": text_distance, "finetune": finetune}[args.probe](args)


if __name__ == "__main__":
    main()
