"""The evaluation's held-out language and photos are held out: no training phrase appears in the
paraphrase set, and no external photo is a training photo."""

import itertools
import re

import cv2
import numpy as np
import pytest

from onestep import world
from onestep.eval import paraphrase, suite
from onestep.world import photos, prompts
from onestep.world.clip import WorldConfig


def training_phrases() -> list[str]:
    out = [p for m in prompts.CAMERA_MOVES for p in prompts.camera_phrases(m)]
    return out + [p for d in prompts.DIRECTIONS for p in prompts.shape_motion_phrases(d)]


def paraphrase_strings() -> list[str]:
    """Every camera phrasing at every speed, every verb + direction pair, and sampled full prompts."""
    out = [
        paraphrase.fill_speed(t, s)
        for m in prompts.CAMERA_MOVES
        for t in paraphrase.camera_templates(m)
        for s in itertools.chain(*paraphrase.SPEEDS.values())
    ]
    out += [
        f"{v} {d}"
        for direction in prompts.DIRECTIONS
        for v, d in itertools.product(paraphrase.VERBS, paraphrase.direction_phrases(direction))
    ]
    for seed in range(1500):
        for track in ("shapes", "photocam"):
            out.append(paraphrase.prompt(world.sample(track, seed, "heldout"), seed))
    return out


def test_no_training_phrase_in_the_paraphrase_set():
    pattern = re.compile(
        "|".join(rf"\b{re.escape(p)}\b" for p in sorted(set(training_phrases()), key=len, reverse=True))
    )
    hits = [(s, m.group()) for s in paraphrase_strings() if (m := pattern.search(s.lower()))]
    assert not hits, f"{len(hits)} paraphrases contain a training phrase, e.g. {hits[:3]}"


def test_paraphrase_vocabulary_is_its_own():
    train_dirs = {w for ws in prompts.ALL_DIRECTIONS.values() for w in ws}
    assert not {p for d in prompts.DIRECTIONS for p in paraphrase.direction_phrases(d)} & train_dirs
    assert not set(paraphrase.VERBS) & set(prompts.ALL_VERBS + prompts.PARTICIPLES)
    train_speeds = {w for ws in prompts.SPEED_PHRASES.values() for w in ws}
    assert not {w for ws in paraphrase.SPEEDS.values() for w in ws} & train_speeds


def test_at_least_twelve_phrasings_of_each_fact():
    for move in prompts.CAMERA_MOVES:
        assert len(set(paraphrase.camera_templates(move))) >= 12, move
    for direction in prompts.DIRECTIONS:
        assert len(set(paraphrase.direction_phrases(direction))) >= 12, direction
    for speed, words in paraphrase.SPEEDS.items():
        assert len(set(words)) >= 12, speed


def test_paraphrases_name_the_facts():
    for seed in range(40):
        clip = world.sample("shapes", seed, "heldout")
        text = paraphrase.prompt(clip, seed).lower()
        assert all(o["colour"] in text and o["shape"] in text for o in clip.truth["objects"]), text


def test_eval_clips_reworded_and_otherwise_unchanged():
    config = WorldConfig()
    for track in ("shapes", "photocam"):
        a = suite.heldout_clips(track, 6, config)
        b = suite.heldout_clips(track, 6, config, prompts="paraphrase")
        facts = lambda c: (
            [(o["colour"], o["direction"], o["speed"]) for o in c.truth["objects"]]
            if c.track == "shapes"
            else (c.truth["move"], c.truth["speed"])
        )  # noqa: E731
        assert all(np.array_equal(x.video, y.video) and facts(x) == facts(y) for x, y in zip(a, b))
        assert all(x.prompt != y.prompt for x, y in zip(a, b))
        assert [c.prompt for c in b] == [c.prompt for c in suite.heldout_clips(track, 6, config, prompts="paraphrase")]


def small(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("name", sorted(photos.EXTERNAL))
def test_external_photos_are_not_training_photos(name):
    """Disjoint by name and by content (no training photo, or its mirror, close to it at 48x48)."""
    external = photos.external()
    assert not set(external) & set(photos.TRAIN)
    img = small(external[name])
    for train in photos.TRAIN + photos.TEXTURES:
        ref = small(photos.load(train))
        for candidate in (ref, ref[:, ::-1]):
            assert float(np.mean((img - candidate) ** 2)) > 1e-3, (name, train)
    assert min(external[name].shape[:2]) >= 96


def test_training_never_draws_an_external_photo():
    seen = {world.sample("photocam", s, "train").truth["photo"] for s in range(200)}
    assert seen <= set(photos.TRAIN) and not seen & set(photos.EXTERNAL)
