"""The training grammar: English prompts for the world's facts, many phrasings per fact.

A prompt is a motion phrase (camera move, or each object's colour, shape, direction and speed) said
in one of many phrasings and word orders, optionally with a distractor clause (a scene description
that carries no fact) and case or punctuation noise. The phrasings the evaluation holds out are in
`paraphrase.py`; `camera_phrases` and `shape_motion_phrases` expand this grammar's templates so a test
can check that none of them appears there.
"""

from __future__ import annotations

import itertools

import numpy as np

from onestep.world import vocabulary

# Directions as unit vectors in image coordinates (x right, y down).
DIRECTIONS = {
    "right": (1, 0),
    "left": (-1, 0),
    "up": (0, -1),
    "down": (0, 1),
    "up-right": (1, -1),
    "up-left": (-1, -1),
    "down-right": (1, 1),
    "down-left": (-1, 1),
}
DIRECTION_WORDS = {
    "right": ["right", "to the right", "rightward", "towards the right", "to the right side"],
    "left": ["left", "to the left", "leftward", "towards the left", "to the left side"],
    "up": ["up", "upward", "towards the top", "to the top", "upwards to the top"],
    "down": ["down", "downward", "towards the bottom", "to the bottom", "downwards to the bottom"],
    "up-right": [
        "up and to the right",
        "towards the top right",
        "diagonally up-right",
        "up and right",
        "to the upper right",
    ],
    "up-left": ["up and to the left", "towards the top left", "diagonally up-left", "up and left", "to the upper left"],
    "down-right": [
        "down and to the right",
        "towards the bottom right",
        "diagonally down-right",
        "down and right",
        "to the lower right",
    ],
    "down-left": [
        "down and to the left",
        "towards the bottom left",
        "diagonally down-left",
        "down and left",
        "to the lower left",
    ],
}
SPEED_WORDS = {
    "slow": ["slowly", "gently", "at a slow pace", "slowly and steadily", "at a low speed"],
    "fast": ["fast", "quickly", "rapidly", "at a fast pace", "at a high speed"],
}
SPEED_PHRASES = {
    k: list(dict.fromkeys(v + vocabulary.SPEED[k])) for k, v in SPEED_WORDS.items()
}  # with the vocabulary's
SPEED_ADJECTIVES = {"slow": ["slow", "gentle", "slow-moving"], "fast": ["fast", "quick", "rapid"]}
ADVERBS = {"slow": ["slowly", "gently"], "fast": ["quickly", "rapidly"]}  # words that may precede a verb
VERBS = ["moves", "drifts", "glides", "travels", "heads", "slides", "goes", "shifts"]
PARTICIPLES = ["moving", "drifting", "gliding", "travelling", "heading", "sliding"]
NUMBERS = {2: "two", 3: "three"}
ALL_VERBS = list(dict.fromkeys(VERBS + vocabulary.VERBS))
ALL_DIRECTIONS = {k: list(dict.fromkeys(v + vocabulary.DIRECTION[k])) for k, v in DIRECTION_WORDS.items()}

CAMERA_MOVES = ("static", "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out")
# per move: (verbs in the third person, their -ing forms, nouns, direction words); phrases combine them
CAMERA_PARTS = {
    "pan left": (
        ["pans", "turns", "swings", "moves"],
        ["panning", "turning", "swinging"],
        ["pan", "turn"],
        ["left", "to the left", "leftward"],
    ),
    "pan right": (
        ["pans", "turns", "swings", "moves"],
        ["panning", "turning", "swinging"],
        ["pan", "turn"],
        ["right", "to the right", "rightward"],
    ),
    "tilt up": (["tilts", "turns", "moves"], ["tilting", "turning"], ["tilt"], ["up", "upward", "towards the sky"]),
    "tilt down": (
        ["tilts", "turns", "moves"],
        ["tilting", "turning"],
        ["tilt"],
        ["down", "downward", "towards the ground"],
    ),
    "zoom in": (["zooms", "pushes"], ["zooming", "pushing"], ["zoom"], ["in", "in closer", "into the scene"]),
    "zoom out": (["zooms", "pulls"], ["zooming", "pulling"], ["zoom"], ["out", "out wider", "back from the scene"]),
}
CAMERA_SUBJECTS = ["the camera", "the view", "the shot"]
STATIC_WORDS = [
    "a static shot, the camera holds still",
    "the camera does not move",
    "a still camera",
    "a fixed, static view",
    "the camera stays still",
    "a static camera",
    "no camera motion",
    "the view is fixed",
    "the shot holds steady",
    "a locked-off shot",
    "the camera stays put",
]
# distractor clauses: scene descriptions that carry no fact of the clip
SCENES = {
    "shapes": [
        "on a grey background",
        "a simple animation",
        "flat coloured shapes",
        "a clean render",
        "in a small box",
        "high quality",
    ],
    "photocam": [
        "over a photo",
        "a photograph",
        "a detailed scene",
        "natural light",
        "high quality",
        "a real-world image",
    ],
}


def pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def camera_phrases(move: str) -> list[str]:
    """Every motion phrase of the grammar for one camera move (without speed), for the held-out test."""
    if move == "static":
        return list(dict.fromkeys(STATIC_WORDS + vocabulary.CAMERA["static"]))
    verbs, ings, nouns, dirs = CAMERA_PARTS[move]
    out = list(vocabulary.CAMERA[move])
    out += [f"{s} {v} {d}" for s, v, d in itertools.product(CAMERA_SUBJECTS, verbs, dirs)]
    out += [f"{i} {d}" for i, d in itertools.product(ings, dirs)]
    out += [f"a {n} {d}" for n, d in itertools.product(nouns, dirs)]
    out += [f"{s} {i} {d}" for s, i, d in itertools.product(["camera", "view"], ings, dirs)]
    return out


def camera_motion(rng: np.random.Generator, move: str, speed: str) -> str:
    """Half the time a phrase of the vocabulary with a speed phrase around it, else a composed one."""
    if rng.random() < 0.5:
        phrase, s = pick(rng, vocabulary.CAMERA[move]), pick(rng, SPEED_PHRASES[speed])
        return pick(rng, [f"{phrase} {s}", f"{s}, {phrase}", f"{phrase}, {s}", phrase])
    verbs, ings, nouns, dirs = CAMERA_PARTS[move]
    d, s = pick(rng, dirs), pick(rng, SPEED_PHRASES[speed])
    forms = [
        f"{pick(rng, CAMERA_SUBJECTS)} {pick(rng, verbs)} {d} {s}",
        f"{s}, {pick(rng, CAMERA_SUBJECTS)} {pick(rng, verbs)} {d}",
        f"{pick(rng, ings)} {d} {s}",
        f"a {pick(rng, SPEED_ADJECTIVES[speed])} {pick(rng, nouns)} {d}",
        f"{pick(rng, ['camera', 'view'])} {pick(rng, ings)} {d}, {s}",
        f"{pick(rng, CAMERA_SUBJECTS)} {pick(rng, verbs)} {d} {s} across the scene",
    ]
    return pick(rng, forms)


def camera_prompt(rng: np.random.Generator, move: str, speed: str) -> str:
    core = pick(rng, camera_phrases("static")) if move == "static" else camera_motion(rng, move, speed)
    return decorate(rng, core, "photocam")


def shape_motion_phrases(direction: str) -> list[str]:
    """Every verb + direction phrase of the grammar for one direction, for the held-out test."""
    return [f"{v} {d}" for v, d in itertools.product(ALL_VERBS + PARTICIPLES, ALL_DIRECTIONS[direction])]


def shape_clause(rng, colour: str, shape: str, direction: str, speed: str, article: str = "a") -> str:
    d, s = pick(rng, ALL_DIRECTIONS[direction]), pick(rng, SPEED_PHRASES[speed])
    adj = pick(rng, SPEED_ADJECTIVES[speed])
    templates = [
        f"{article} {colour} {shape} {pick(rng, ALL_VERBS)} {d} {s}",
        f"{article} {colour} {shape} {pick(rng, PARTICIPLES)} {d} {s}",
        f"{article} {adj} {colour} {shape} {pick(rng, PARTICIPLES)} {d}",
        f"{article} {colour} {shape} {pick(rng, ADVERBS[speed])} {pick(rng, VERBS)} {d}",
        f"{s}, {article} {colour} {shape} {pick(rng, ALL_VERBS)} {d}",
        f"{article} {shape}, {colour}, {pick(rng, PARTICIPLES)} {d} {s}",
    ]
    return pick(rng, templates)


def shapes_motion(rng: np.random.Generator, objects: list[dict]) -> str:
    """objects: dicts with colour, shape, direction, speed."""
    if len(objects) == 1:
        o = objects[0]
        return shape_clause(rng, o["colour"], o["shape"], o["direction"], o["speed"])
    same_shape = len({o["shape"] for o in objects}) == 1
    if same_shape and rng.random() < 0.6:
        # "two squares, the blue one moving up fast, the red one moving left slowly"
        head = f"{NUMBERS[len(objects)]} {objects[0]['shape']}s"
        parts = [
            f"the {o['colour']} one {pick(rng, PARTICIPLES)} {pick(rng, ALL_DIRECTIONS[o['direction']])} "
            f"{pick(rng, SPEED_PHRASES[o['speed']])}"
            for o in objects
        ]
        return head + ", " + ", ".join(parts)
    clauses = [shape_clause(rng, o["colour"], o["shape"], o["direction"], o["speed"]) for o in objects]
    joiner = (
        pick(rng, ["; ", ", and ", " while ", " and ", ". "]) if len(clauses) == 2 else pick(rng, ["; ", ". ", ", "])
    )
    return joiner.join(clauses)


def shapes_prompt(rng: np.random.Generator, objects: list[dict]) -> str:
    return decorate(rng, shapes_motion(rng, objects), "shapes")


def decorate(rng: np.random.Generator, core: str, track: str) -> str:
    """A distractor clause (40%), then case and punctuation noise (each 20%) around the motion phrase."""
    text = core
    if rng.random() < 0.4:
        scene = pick(rng, SCENES[track])
        text = f"{scene}, {text}" if rng.random() < 0.5 else f"{text}, {scene}"
    r = rng.random()
    if r < 0.1:
        text = text.upper()
    elif r < 0.2:
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.2:
        text += pick(rng, [".", "!", " ."])
    return text
