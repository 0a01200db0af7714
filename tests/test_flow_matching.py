"""The teacher's objective: its condition dropout (methods/flow_matching.py)."""

import pytest
import torch

from onestep import seeding, world
from onestep.data.world import as_batch
from onestep.methods.flow_matching import FlowMatchingConfig, drop_conditions
from onestep.world.stream import collate


@pytest.fixture(scope="module")
def batch(encoder):
    b = collate([world.sample("shapes", 1), world.sample("photocam", 2), world.sample("shapes", 3)])
    b.text, b.text_mask = encoder(b.prompts)
    b.neg_text, b.neg_text_mask = encoder.null(1)
    return as_batch(b)


def test_token_dropout_hides_tokens_but_the_first_and_leaves_runs_without_it_as_they_were(batch):
    cond = batch.cond
    plain = drop_conditions(FlowMatchingConfig(), cond, seeding.Draws(0, 3, 1))
    again = drop_conditions(FlowMatchingConfig(p_drop_token=0.0), cond, seeding.Draws(0, 3, 1))
    dropped = drop_conditions(FlowMatchingConfig(p_drop_token=0.5), cond, seeding.Draws(0, 3, 1))
    assert torch.equal(plain.text_mask, again.text_mask) and torch.equal(plain.latent_mask, dropped.latent_mask)
    assert torch.equal(plain.text, dropped.text)  # the same prompts and CFG drops: token dropout draws last
    assert dropped.text_mask[:, 0].all() and not (dropped.text_mask & ~plain.text_mask).any()
    hidden = (plain.text_mask & ~dropped.text_mask)[:, 1:].sum() / plain.text_mask[:, 1:].sum()
    assert 0.3 < hidden.item() < 0.7, hidden
    twice = drop_conditions(FlowMatchingConfig(p_drop_token=0.5), cond, seeding.Draws(0, 3, 1))
    assert torch.equal(dropped.text_mask, twice.text_mask)  # a function of (seed, step): resumes exactly
