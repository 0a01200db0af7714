"""Where do a teacher's camera moves fail: the picture, the text encoder, or the model's reading of it?
(docs/log/2026-12-05-camera-probes.md, docs/log/2026-12-06-text-encoder.md)

    .venv/bin/python experiments/camera_probes.py prompt-loss [--model assets/teacher]
    .venv/bin/python experiments/camera_probes.py text-probe [--reader mean|meanmax|mlp|tokens]
    .venv/bin/python experiments/camera_probes.py text-distance [--model assets/teacher]
    .venv/bin/python experiments/camera_probes.py finetune --steps 0                      # the model as it is
    .venv/bin/python experiments/camera_probes.py finetune --steps 300 --zoom-share 0.5 --eval zooms
    .venv/bin/python experiments/camera_probes.py finetune --steps 300 --aux 1.0 --eval paraphrase
    .venv/bin/python experiments/camera_probes.py finetune --steps 600 --text sentence --save runs/s21/sentence600
    .venv/bin/python experiments/camera_probes.py finetune --model runs/s21/sentence600 --steps 0 --text mpnet --mpnet
    DIR

- `prompt-loss`: for 24 training-split photocam clips of each true move, the flow-matching loss
  (mean over t = 0.5, 0.7, 0.85, 0.95, one noise) with a training-grammar prompt of each of the seven
  moves. A model that reads a move's prompt has its lowest loss on that move's row.
- `text-probe`: a classifier (L-BFGS, weight decay `--wd`) on the frozen MiniLM's standardised
  features (`--reader`: linear on the masked-mean embedding, on mean and max, on the first 16 token
  states, or an MLP on the mean), fitted on 4,200 training-grammar camera prompts and tested on 1,400
  held-out phrasings (eval/paraphrase.py): how much of the move the encoder alone keeps in words it
  never saw, with no video model in the way.
- `text-distance`: for pairs of opposite moves in training words, how far apart the model's inputs
  are: ||a - b|| / mean(||a||, ||b||) of the pooled MiniLM embedding, of it standardised, and of the
  pooled-text part of the model's conditioning vector.
- `finetune`: `--steps` of the teacher's objective from `--model` (batch 16, shapes 0.6 / photocam
  0.4, motion weight 8, lr with a 20-step warmup, AdamW (0.9, 0.99), an EMA of 0.99 evaluated), with
  `--zoom-share` of each batch replaced by training zoom clips, and `--aux` > 0 adding a linear
  move classifier on the model's pooled-text conditioning (cross-entropy on the batch's camera
  prompts); `--token-drop p` hides each token state but the first with probability p; `--text
  sentence` gives the model the prompt as one token, MiniLM's pooled embedding, and `--text mpnet`
  all-mpnet-base-v2's (from the folder `--mpnet`), mapped into MiniLM's space by a ridge regression.
  `--save DIR` writes the fine-tuned EMA. Then, for each of `--eval` (comma-separated), 25 Euler
  steps with CFG 3 (50 NFE) on held-out clips over the external photos: `zooms` (the first 40 zoom
  clips and 24 others of the first 256), `paraphrase` / `template` (the first 128 non-zoom clips in
  held-out words / the training grammar), `all-paraphrase` / `all-template` (all 256 clips at 100
  NFE), read with the world's camera instrument; or `shapes-template` / `shapes-paraphrase` (shape
  direction on the first 128 held-out shapes clips).
"""

from __future__ import annotations

import argparse
import copy
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from sentence_encoders import MpnetSentenceEncoder, SentenceEncoder

from onestep.eval import paraphrase
from onestep.eval.sample import SamplerSpec, generate_for_clips
from onestep.eval.suite import heldout_clips
from onestep.methods.flow_matching import (
    FlowMatchingConfig,
    TimeConfig,
    drop_conditions,
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
    model, config = load_model(args.model)
    enc = TextEncoder.of(config)
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


def fit(x_train, y_train, x_test, wd: float, hidden: int = 0) -> torch.Tensor:
    """A linear (or one-hidden-layer) classifier fitted with L-BFGS; the test set's guesses."""
    torch.manual_seed(0)
    net = (
        torch.nn.Linear(x_train.shape[1], 7)
        if not hidden
        else torch.nn.Sequential(torch.nn.Linear(x_train.shape[1], hidden), torch.nn.GELU(), torch.nn.Linear(hidden, 7))
    )
    if not hidden:
        torch.nn.init.zeros_(net.weight), torch.nn.init.zeros_(net.bias)
    opt = torch.optim.LBFGS(net.parameters(), max_iter=300)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(net(x_train), y_train) + wd * sum(
            p.pow(2).sum() for n, p in net.named_parameters() if "weight" in n
        )
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        assert (net(x_train).argmax(1) == y_train).float().mean() > 0.95, "the reader did not fit the training grammar"
        return net(x_test).argmax(1)


def text_probe(args) -> None:
    """How well can a reader of the frozen encoder name held-out phrasings' moves? `--reader`:
    `mean` (linear, the masked-mean embedding), `meanmax` (linear, mean and max over tokens),
    `mlp` (one hidden layer of 256 on the mean), `tokens` (linear on the first 16 token states)."""
    enc, rng = TextEncoder(max_length=80), np.random.default_rng(0)

    def data(make, n):
        texts = [make(rng, MOVES[i % 7], ["slow", "fast"][(i // 7) % 2]) for i in range(n)]
        return texts, torch.tensor([i % 7 for i in range(n)])

    (train_text, y_train), (test_text, y_test) = (
        data(prompts.camera_prompt, 4200),
        data(paraphrase.camera, 1400),
    )

    mp = MpnetSentenceEncoder.load(args.mpnet) if args.mpnet else None

    def features(texts: list[str]) -> torch.Tensor:
        if mp is not None:  # all-mpnet-base-v2's mean-pooled embedding (the `mean` reader)
            return MpnetSentenceEncoder.embed(*mp, texts, 80)
        out = []
        for i in range(0, len(texts), 256):
            text, mask = enc(texts[i : i + 256])
            mean = VideoDiT.pooled_text(Cond(text, mask))
            if args.reader == "meanmax":
                mean = torch.cat([mean, text.masked_fill(~mask[..., None], -1e4).amax(1)], 1)
            elif args.reader == "tokens":
                mean = (text * mask[..., None])[:, :16].flatten(1)
            out.append(mean)
        return torch.cat(out)

    # beside the 1,400 phrasings: the suite's own 256 external-photo clips in held-out words
    clips = heldout_clips("photocam", 256, CONFIG, world_photos.external(), prompts="paraphrase")
    x_train, x_test = features(train_text), features(test_text + [c.prompt for c in clips])
    mu, sd = x_train.mean(0), x_train.std(0).clamp(min=1e-4)
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    guess = fit(x_train, y_train, x_test, args.wd, hidden=256 if args.reader == "mlp" else 0)
    guess, on_clips = guess[: len(test_text)], guess[len(test_text) :]
    per = " ".join(f"{m}={(guess[y_test == k] == k).float().mean().item():.2f}" for k, m in enumerate(MOVES))
    name = "all-mpnet-base-v2" if mp is not None else "MiniLM"
    print(
        f"{name}, reader {args.reader}, weight decay {args.wd}: held-out phrasings "
        f"{(guess == y_test).float().mean().item():.3f} ({per})"
    )
    truth = [c.truth["move"] for c in clips]
    read = np.array([MOVES[k] == t for k, t in zip(on_clips.tolist(), truth)])
    other = np.array([not t.startswith("zoom") for t in truth])
    print(
        f"the suite's 256 clips in held-out words: the reader names {read.sum()} ({read[other].sum()} of "
        f"{other.sum()} non-zoom)"
    )
    if args.videos:  # a model's videos of those clips (an `onestep eval --photos external --prompts paraphrase` folder)
        made = np.array(
            [
                instruments.estimate_camera(v)["move"] == t
                for v, t in zip(np.load(f"{args.videos}/videos-photocam.npz")["videos"], truth)
            ]
        )
        print(
            f"non-zoom clips, the model makes the move where the reader is right: {made[other & read].sum()} of "
            f"{(other & read).sum()}; where it is wrong: {made[other & ~read].sum()} of {(other & ~read).sum()}"
        )


PAIRS = [
    ("the camera pans left slowly", "the camera pans right slowly"),
    ("the camera tilts up slowly", "the camera tilts down slowly"),
    ("the camera zooms in slowly", "the camera zooms out slowly"),
]


@torch.no_grad()
def text_distance(args) -> None:
    model, config = load_model(args.model)
    enc = TextEncoder.of(config)

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
    if which.startswith("shapes"):  # shapes-template / shapes-paraphrase: the first 128 held-out clips
        clips = heldout_clips("shapes", 128, CONFIG, prompts=which.split("-")[1])
        t0 = time.time()
        videos = generate_for_clips(model, enc, clips, SamplerSpec("euler", 25, 3.0, 3.0), seed=0)
        acc = [instruments.shapes_report(v, c.truth)["direction_acc"] for c, v in zip(clips, videos)]
        print(f"{tag}: shape direction {np.nanmean(acc):.3f} [{time.time() - t0:.0f} s]", flush=True)
        return
    clips = heldout_clips(
        "photocam",
        256,
        CONFIG,
        world_photos.external(),
        prompts="paraphrase" if which.endswith("paraphrase") else "template",
    )
    zoom = [c.truth["move"].startswith("zoom") for c in clips]
    spec = SamplerSpec("euler", 25, 3.0, 3.0)
    if which.startswith("all-"):  # all-template / all-paraphrase: all 256 clips at the suite's 100 NFE
        spec = SamplerSpec("euler", 50, 3.0, 3.0)
    elif which == "zooms":
        clips = [c for c, z in zip(clips, zoom) if z][:40] + [c for c, z in zip(clips, zoom) if not z][:24]
    else:
        clips = [c for c, z in zip(clips, zoom) if not z][:128]
    t0 = time.time()
    videos = generate_for_clips(model, enc, clips, spec, seed=0)
    read = [instruments.estimate_camera(v)["move"] for v in videos]
    right, total = Counter(), Counter()
    for c, r in zip(clips, read):
        total[c.truth["move"]] += 1
        right[c.truth["move"]] += r == c.truth["move"]
    per = " ".join(f"{m}={right[m]}/{total[m]}" for m in MOVES if total[m])
    print(
        f"{tag}: camera-move accuracy {sum(right.values()) / len(clips):.3f} ({per}) [{time.time() - t0:.0f} s]",
        flush=True,
    )


def finetune(args) -> None:
    model, config = load_model(args.model)
    enc = (
        MpnetSentenceEncoder(args.mpnet)
        if args.text == "mpnet"
        else SentenceEncoder(max_length=80)
        if args.text == "sentence"
        else TextEncoder.of(config)
    )
    if args.steps == 0:
        for which in args.eval.split(","):
            evaluate(model, enc, which, f"{args.model}, text {args.text}, {which}")
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
        null_text, null_mask = enc.null(16)
        cond = drop_conditions(
            FlowMatchingConfig(p_drop_text=0.1, p_drop_image=0.1, p_drop_token=args.token_drop),
            Cond(text, mask, b.image, torch.ones(16)).with_negative(null_text, null_mask),
            Draws(0, step, 1),
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
            loss = (
                loss
                + args.aux
                * F.cross_entropy(head(text_condition(net, Cond(text[cam], mask[cam], None))), labels)
                * len(cam)
                / 16
            )
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
    if args.save:
        from onestep.models.io import save_model

        save_model(args.save, ema)
    for which in args.eval.split(","):
        evaluate(
            ema.eval(),
            enc,
            which,
            f"{args.steps} steps, zoom share {args.zoom_share}, aux {args.aux}, token drop {args.token_drop}, text "
            f"{args.text}, {which}",
        )


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="probe", required=True)
    a = sub.add_parser("prompt-loss")
    a.add_argument("--model", default="assets/teacher")
    a = sub.add_parser("text-probe")
    a.add_argument("--wd", type=float, default=1e-3)
    a.add_argument("--reader", choices=["mean", "meanmax", "mlp", "tokens"], default="mean")
    a.add_argument(
        "--mpnet", default="", help="read all-mpnet-base-v2's mean embedding from this folder instead of MiniLM's"
    )
    a.add_argument("--videos", default="", help="an eval folder of the 256 external-photo clips in held-out words")
    a = sub.add_parser("text-distance")
    a.add_argument("--model", default="assets/teacher")
    a = sub.add_parser("finetune")
    a.add_argument("--model", default="assets/teacher")
    a.add_argument("--steps", type=int, default=300)
    a.add_argument("--zoom-share", type=float, default=0.0)
    a.add_argument("--aux", type=float, default=0.0)
    a.add_argument("--token-drop", type=float, default=0.0)
    a.add_argument("--text", choices=["tokens", "sentence", "mpnet"], default="tokens")
    a.add_argument("--mpnet", default="", help="--text mpnet: a folder with all-mpnet-base-v2 (transformers format)")
    a.add_argument("--save", default="", help="write the fine-tuned EMA here as a model directory")
    a.add_argument("--lr", type=float, default=3e-4)
    a.add_argument(
        "--eval",
        default="paraphrase",
        help="comma-separated: zooms, paraphrase, template, all-paraphrase, all-template, shapes-template, "
        "shapes-paraphrase",
    )
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the fine-tune's CFG drops and noise (unseeded before session 21)
    {"prompt-loss": prompt_loss, "text-probe": text_probe, "text-distance": text_distance, "finetune": finetune}[
        args.probe
    ](args)


if __name__ == "__main__":
    main()
