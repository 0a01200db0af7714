"""The latent cache's reader: batches are a function of (seed, step), every clip once per epoch, and a
cache from another teacher, task or size is refused with the fix."""

import pytest
import torch

from onestep.data import cache as latent_cache
from onestep.errors import UserError
from onestep.types import ModelSpec

SPEC = ModelSpec("wan", 16, 3, 4, 4, (1, 2, 2), 24, 2, 32, 16)


def write_cache(folder, n=5, i2v=True, shard=2, teacher_hash="abc", text_dim=32, image_dim=8):
    """A synthetic cache of n clips whose latents are filled with their index (9 frames of 32 x 32)."""
    folder.mkdir(parents=True)
    manifest = latent_cache.new_manifest(
        teacher_hash, i2v, {"frames": 9, "fps": 16, "height": 32, "width": 32}, (3, 4, 4), 512
    )
    latent_cache.atomic_save(
        {"text": torch.randn(1, 6, text_dim), "text_mask": torch.ones(1, 6, dtype=torch.bool)},
        folder / latent_cache.NEGATIVE,
    )
    for start in range(0, n, shard):
        k = min(shard, n - start)
        ids = torch.arange(start, start + k, dtype=torch.float32)
        tensors = {
            "latent": ids.view(k, 1, 1, 1, 1).expand(k, 16, 3, 4, 4).clone(),
            "text": torch.randn(k, 6, text_dim),
            "text_mask": torch.ones(k, 6, dtype=torch.bool),
        }
        if i2v:
            tensors |= {"cond_latent": torch.randn(k, 16, 3, 4, 4), "image_tokens": torch.randn(k, 5, image_dim)}
        manifest = latent_cache.add_shard(
            folder, manifest, tensors, [{"source": f"{i}.mp4", "prompt": f"clip {i}"} for i in range(start, start + k)]
        )
    return folder


def clip_ids(batch):
    return batch.video[:, 0, 0, 0, 0].long().tolist()


def test_batches_are_a_function_of_seed_and_step_and_cover_each_epoch(tmp_path):
    data = latent_cache.CacheData(write_cache(tmp_path / "c"), seed=0, batch_size=2, spec=SPEC)
    assert len(data) == 5 and len(data.manifest["shards"]) == 3
    stream = data(0)
    first = [clip_ids(next(stream)) for _ in range(5)]  # 10 clips: two epochs of 5
    flat = sum(first, [])
    assert sorted(flat[:5]) == sorted(flat[5:]) == [0, 1, 2, 3, 4]
    resumed = data(3)
    assert [clip_ids(next(resumed)) for _ in range(2)] == first[3:]
    other = latent_cache.CacheData(tmp_path / "c", seed=1, batch_size=2, spec=SPEC)
    assert sum([clip_ids(b) for b, _ in zip(other(0), range(5))], []) != flat
    b = data.batch(0)
    assert (
        b.cond.latent.shape == (2, 16, 3, 4, 4)
        and b.cond.image_tokens.shape == (2, 5, 8)
        and b.cond.uncond().text.shape == (2, 6, 32)
    )


def test_a_cache_is_refused_for_another_teacher_task_or_size(tmp_path):
    folder = write_cache(tmp_path / "c")
    manifest = latent_cache.read_manifest(folder)
    latent_cache.check_teacher(manifest, folder, "abc", True)
    with pytest.raises(UserError, match="another teacher"):
        latent_cache.check_teacher(manifest, folder, "def", True)
    with pytest.raises(UserError, match="image-to-video data and the teacher is text-to-video"):
        latent_cache.check_teacher(manifest, folder, "abc", False)
    with pytest.raises(UserError, match="prepare the cache at this size"):
        latent_cache.CacheData(
            folder, seed=0, batch_size=2, spec=ModelSpec("wan", 16, 5, 4, 4, (1, 2, 2), 24, 2, 32, 16)
        )
    with pytest.raises(UserError, match="not a latent cache"):
        latent_cache.read_manifest(tmp_path)


def test_a_killed_write_leaves_the_last_complete_shard_listed(tmp_path, monkeypatch):
    folder = write_cache(tmp_path / "c", n=2)
    before = (folder / latent_cache.MANIFEST).read_text()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(latent_cache, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        latent_cache.add_shard(
            folder,
            latent_cache.read_manifest(folder),
            {"latent": torch.zeros(1, 16, 3, 4, 4)},
            [{"source": "x.mp4", "prompt": ""}],
        )
    assert (folder / latent_cache.MANIFEST).read_text() == before and not (folder / "shard_00001.safetensors").exists()


def test_a_process_reads_only_its_chunks_of_each_global_batch(tmp_path):
    """shard(chunks, n): the rows of those chunks of the global batch, in order, and no others."""
    folder = write_cache(tmp_path / "c", n=5)
    whole = latent_cache.CacheData(folder, seed=0, batch_size=4, spec=SPEC)
    part = latent_cache.CacheData(folder, seed=0, batch_size=4, spec=SPEC)
    part.shard([1], 2)  # the second process of two, one micro-batch each
    read = []
    part.clip = lambda i, clip=part.clip: read.append(i) or clip(i)
    for step in range(3):
        assert clip_ids(part.batch(step)) == clip_ids(whole.batch(step))[2:]
    assert len(read) == 6  # two clips a step, never the other process's
