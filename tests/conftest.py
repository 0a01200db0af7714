import os

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(1)  # tiny models gain nothing from more threads, and a busy machine stalls them


def pytest_collection_modifyitems(items):
    """Files that start several processes (marked `processes`) first, the rest in their order: `make
    test`'s workers take whole files in this order, and a long file left for the end keeps the other
    worker idle."""
    items.sort(key=lambda item: item.get_closest_marker("processes") is None)


@pytest.fixture(autouse=True)
def one_thread():
    """Every test starts on one intra-op thread: a run inside a test sets its own (train.threads), and two
    test workers (`pytest -n 2`) each spinning two OpenMP threads on two cores slow each other sixfold."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def encoder():
    from onestep.models.text import TextEncoder

    return TextEncoder(max_length=32)
