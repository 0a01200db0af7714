"""Varied English prompts for the world's facts: several templates per fact, chosen by the clip's rng."""

from __future__ import annotations

import numpy as np

# Directions as unit vectors in image coordinates (x right, y down).
DIRECTIONS = {
    "right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1),
    "up-right": (1, -1), "up-left": (-1, -1), "down-right": (1, 1), "down-left": (-1, 1),
}
DIRECTION_WORDS = {
    "right": ["right", "to the right", "rightward", "towards the right"],
    "left": ["left", "to the left", "leftward", "towards the left"],
    "up": ["up", "upward", "towards the top"],
    "down": ["down", "downward", "towards the bottom"],
    "up-right": ["up and to the right", "towards the top right", "diagonally up-right"],
    "up-left": ["up and to the left", "towards the top left", "diagonally up-left"],
    "down-right": ["down and to the right", "towards the bottom right", "diagonally down-right"],
    "down-left": ["down and to the left", "towards the bottom left", "diagonally down-left"],
}
SPEED_WORDS = {"slow": ["slowly", "gently", "at a slow pace"], "fast": ["fast", "quickly", "rapidly"]}
ADVERBS = {"slow": ["slowly", "gently"], "fast": ["quickly", "rapidly"]}  # words that may precede a verb
VERBS = ["moves", "drifts", "glides", "travels", "heads", "slides"]
NUMBERS = {2: "two", 3: "three"}


def pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def shape_clause(rng, colour: str, shape: str, direction: str, speed: str, article: str = "a") -> str:
    d, s = pick(rng, DIRECTION_WORDS[direction]), pick(rng, SPEED_WORDS[speed])
    templates = [
        f"{article} {colour} {shape} {pick(rng, VERBS)} {d} {s}",
        f"{article} {colour} {shape} moving {d} {s}",
        f"{article} {'fast' if speed == 'fast' else 'slow'} {colour} {shape} heading {d}",
        f"{article} {colour} {shape} {pick(rng, ADVERBS[speed])} {pick(rng, VERBS)} {d}",
    ]
    return pick(rng, templates)


def shapes_prompt(rng: np.random.Generator, objects: list[dict]) -> str:
    """objects: dicts with colour, shape, direction, speed."""
    if len(objects) == 1:
        o = objects[0]
        return shape_clause(rng, o["colour"], o["shape"], o["direction"], o["speed"])
    same_shape = len({o["shape"] for o in objects}) == 1
    if same_shape and rng.random() < 0.6:
        # "two squares, the blue one moving up fast, the red one moving left slowly"
        head = f"{NUMBERS[len(objects)]} {objects[0]['shape']}s"
        parts = [
            f"the {o['colour']} one moving {pick(rng, DIRECTION_WORDS[o['direction']])} {pick(rng, SPEED_WORDS[o['speed']])}"
            for o in objects
        ]
        return head + ", " + ", ".join(parts)
    clauses = [shape_clause(rng, o["colour"], o["shape"], o["direction"], o["speed"]) for o in objects]
    joiner = pick(rng, ["; ", ", and ", " while "]) if len(clauses) == 2 else "; "
    return joiner.join(clauses)


CAMERA_MOVES = ("static", "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out")
CAMERA_WORDS = {
    "pan left": ["the camera pans left", "a pan to the left", "the view pans left", "panning left"],
    "pan right": ["the camera pans right", "a pan to the right", "the view pans right", "panning right"],
    "tilt up": ["the camera tilts up", "a tilt upward", "the view tilts up", "tilting up"],
    "tilt down": ["the camera tilts down", "a tilt downward", "the view tilts down", "tilting down"],
    "zoom in": ["the camera zooms in", "a zoom in", "zooming in", "the view zooms in"],
    "zoom out": ["the camera zooms out", "a zoom out", "zooming out", "the view zooms out"],
}
STATIC_WORDS = ["a static shot, the camera holds still", "the camera does not move", "a still camera", "a fixed, static view"]


def camera_prompt(rng: np.random.Generator, move: str, speed: str) -> str:
    if move == "static":
        return pick(rng, STATIC_WORDS)
    base = pick(rng, CAMERA_WORDS[move])
    s = pick(rng, SPEED_WORDS[speed])
    return pick(rng, [f"{base} {s}", f"{s}, {base}", f"{base} {s} across the scene"])
