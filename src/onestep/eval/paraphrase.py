"""The held-out language of the evaluation: phrasings written for evaluation only.

Training draws its prompts from `world/prompts.py`; none of that grammar's motion phrases appears
here (tests/test_paraphrase.py checks it): other verbs, other direction and speed words, other word
orders, imperative mood, extra clauses, typos and upper case. `onestep eval --prompts paraphrase`
gives each held-out clip a prompt from this set instead of its training-grammar prompt; the clip,
its first frame, its noise and its ground truth are unchanged, so the two figures are paired.
Nothing outside the evaluation imports this module.
"""

from __future__ import annotations

import numpy as np

from onestep.world.clip import Clip

SPEEDS = {
    "slow": [
        "unhurriedly",
        "at a leisurely pace",
        "little by little",
        "at a crawl",
        "gradually",
        "without any hurry",
        "at a snail's pace",
        "calmly",
        "sluggishly",
        "in slow motion",
        "slow and steady",
        "bit by bit",
    ],
    "fast": [
        "swiftly",
        "briskly",
        "in a hurry",
        "at speed",
        "in a flash",
        "speedily",
        "at a rapid clip",
        "hastily",
        "in a rush",
        "zippily",
        "at breakneck pace",
        "double-quick",
    ],
}

# camera moves: {s} is a speed phrase, {S} the same phrase starting a sentence
PAN = [
    "the view slides {s} toward the {side}",
    "swing the lens over to the {side} {s}",
    "{S}, sweep the camera toward the {side}-hand side",
    "the camera sweeps {side}wards {s}",
    "look over toward the {side}, {s}",
    "a sideways camera move to the {side}, {s}",
    "we turn our gaze to the {side} {s}",
    "PAN THE CAMERA TO THE {SIDE}",
    "the camra is paning to the {side} {s}",
    "the point of view rotates toward the {side} {s}, revealing more of that side",
    "{S}, the frame scrolls along to the {side}",
    "move the viewpoint {side}wards {s}",
    "the lens glances {s} over to the {side} of the scene",
]
TILT = [
    "the view tips {s} toward the {heaven}",
    "{raise} the lens {s}",
    "{S}, aim the camera {higher}",
    "the camera looks {up}wards {s}",
    "point the view {up} toward the {top} of the scene, {s}",
    "a vertical camera move, {up}wards, {s}",
    "we crane our necks to look {up} {s}",
    "TILT THE CAMERA {UP}",
    "the camrea is tiltng {up} {s}",
    "the angle of view {rises} {s} toward the {top}",
    "{S}, the frame scrolls {up}",
    "nod the camera {up}ward {s}",
    "the lens {lifts} {s} toward the {top} of the picture",
]
TILT_WORDS = {
    "tilt up": dict(
        heaven="heavens", raise_="raise", higher="higher", up="up", top="top", rises="rises", lifts="lifts"
    ),
    "tilt down": dict(
        heaven="floor", raise_="lower", higher="lower", up="down", top="bottom", rises="drops", lifts="sinks"
    ),
}
ZOOM = {
    "zoom in": [
        "push in {s} toward the centre of the image",
        "move closer to the subject {s}",
        "{S}, magnify the scene",
        "the view tightens {s} on the middle of the frame",
        "get a close-up, {s}",
        "the lens closes in on the centre {s}",
        "ZOOM THE CAMERA IN",
        "the camera dollies forward {s}",
        "enlarge the picture {s}, as if walking toward it",
        "the scene grows bigger {s} as we approach",
        "the camrea zoms in {s}",
        "things get larger {s} in the frame",
        "a push toward the subject, {s}",
    ],
    "zoom out": [
        "widen the view {s}",
        "pull back from the subject {s}",
        "{S}, reveal more of the surroundings",
        "the view broadens {s} to take in more",
        "move farther away from the scene {s}",
        "the lens backs away {s}",
        "ZOOM THE CAMERA OUT",
        "the camera dollies backward {s}",
        "shrink the picture {s}, as if stepping back",
        "the scene gets smaller {s} as we retreat",
        "the camrea zoms out {s}",
        "things get tinier {s} in the frame",
        "a wider and wider shot, {s}",
    ],
}
STATIC = [
    "keep the camera perfectly still",
    "no movement of the view at all",
    "the picture stays exactly where it is",
    "hold the frame steady",
    "a motionless camera on a tripod",
    "The viewpoint never changes",
    "nothing moves, the lens stays fixed",
    "a frozen view of the scene",
    "STEADY CAMERA, NO PANNING",
    "the camra stays completly still",
    "a locked camera with zero motion",
    "the view remains unchanged throughout",
]

# shapes: direction phrases per direction, verbs, and clause templates
HORIZONTAL = [
    "toward the {h} edge",
    "over to the {h}-hand side",
    "{h}wards",
    "{east}ward",
    "in the direction of the {h} border",
    "across to the {h}",
    "toward the {h} of the frame",
    "to its {h}",
    "off to the {h}",
    "along toward the {h} wall",
    "sideways to the {h}",
    "in a {h}ward line",
]
VERTICAL = [
    "toward the {top} edge",
    "{v}wards",
    "{north}ward",
    "toward the {ceiling}",
    "to the {top} border",
    "{higher} and {higher}",
    "straight {v}",
    "{v} the frame",
    "toward the {top} of the picture",
    "in the direction of the {top}",
    "vertically {v}ward",
    "off toward the {top}",
]
DIAGONAL = [
    "toward the {upper} {h} corner",
    "{v} and over to the {h}",
    "to the {top}-{h}",
    "{north}-{east}",
    "{north}{east}ward",
    "on a diagonal toward the {top} {h}",
    "diagonally, {v} and {h}wards",
    "{v}ward and {h}ward at once",
    "toward the {top}-{h} corner of the frame",
    "slantwise toward the {upper} {h}",
    "in the {top} {h} direction",
    "along the diagonal to the {upper} {h}",
]
SIDES = {"right": dict(h="right", east="east"), "left": dict(h="left", east="west")}
LEVELS = {
    "up": dict(v="up", top="top", upper="upper", north="north", ceiling="ceiling", higher="higher"),
    "down": dict(v="down", top="bottom", upper="lower", north="south", ceiling="floor", higher="lower"),
}
VERBS = [
    "rolls",
    "floats",
    "scoots",
    "zips",
    "creeps",
    "wanders",
    "sails",
    "coasts",
    "makes its way",
    "darts",
    "cruises",
    "tumbles",
]
CLAUSES = [
    "the {colour} {shape} {verb} {dir} {s}",
    "watch as the {colour} {shape} {verb} {dir} {s}",
    "{S}, the {colour} {shape} {verb} {dir}",
    "there is a {colour} {shape} that {verb} {dir} {s}",
    "one {colour} {shape}, which {verb} {dir} {s}",
    "make the {colour} {shape} go {dir} {s}",
    "A {COLOUR} {SHAPE} {VERB} {DIR}",
    "teh {colour} {shape} {verb} {dir} {s}",
    "the {shape} in {colour} {verb} {dir} {s}, and nothing else changes",
    "look: a {colour} {shape} {verb} {s} {dir}",
    "the {colour} {shape} is on the move, {dir}, {s}",
]
JOINERS = [" and meanwhile ", "; at the same time ", ". Also, ", " -- and "]


def pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def direction_phrases(direction: str) -> list[str]:
    """The held-out phrasings of one of the eight directions."""
    parts = direction.split("-")
    if len(parts) == 2:
        return [t.format(**LEVELS[parts[0]], **SIDES[parts[1]]) for t in DIAGONAL]
    if direction in SIDES:
        return [t.format(**SIDES[direction]) for t in HORIZONTAL]
    return [t.format(**LEVELS[direction]) for t in VERTICAL]


def camera_templates(move: str) -> list[str]:
    """The held-out phrasings of one camera move, with {s}/{S} for the speed."""
    if move == "static":
        return list(STATIC)
    if move in ZOOM:
        return list(ZOOM[move])
    if move.startswith("pan"):
        side = move.split()[1]
        return [t.replace("{side}", side).replace("{SIDE}", side.upper()) for t in PAN]
    w = TILT_WORDS[move]
    keys = {
        "{heaven}": w["heaven"],
        "{raise}": w["raise_"],
        "{higher}": w["higher"],
        "{up}": w["up"],
        "{UP}": w["up"].upper(),
        "{top}": w["top"],
        "{rises}": w["rises"],
        "{lifts}": w["lifts"],
    }
    out = []
    for t in TILT:
        for k, v in keys.items():
            t = t.replace(k, v)
        out.append(t)
    return out


def fill_speed(template: str, phrase: str) -> str:
    return template.replace("{s}", phrase).replace("{S}", phrase[:1].upper() + phrase[1:])


def camera(rng: np.random.Generator, move: str, speed: str) -> str:
    return fill_speed(pick(rng, camera_templates(move)), pick(rng, SPEEDS[speed]))


def shape_clause(rng: np.random.Generator, o: dict) -> str:
    words = dict(
        colour=o["colour"], shape=o["shape"], verb=pick(rng, VERBS), dir=pick(rng, direction_phrases(o["direction"]))
    )
    template = pick(rng, CLAUSES)
    for k, v in words.items():
        template = template.replace("{" + k + "}", v).replace("{" + k.upper() + "}", v.upper())
    return fill_speed(template, pick(rng, SPEEDS[o["speed"]]))


def shapes(rng: np.random.Generator, objects: list[dict]) -> str:
    clauses = [shape_clause(rng, o) for o in objects]
    out = clauses[0]
    for c in clauses[1:]:
        out += pick(rng, JOINERS) + c
    return out


def prompt(clip: Clip, seed: int) -> str:
    """The held-out prompt for a clip of the world (seed: the clip's world seed)."""
    rng = np.random.default_rng([seed, 41])
    if clip.track == "photocam":
        return camera(rng, clip.truth["move"], clip.truth["speed"])
    if clip.track == "shapes":
        return shapes(rng, clip.truth["objects"])
    raise ValueError(f"no paraphrases for track {clip.track!r}")
