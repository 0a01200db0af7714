import os

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(1)  # tiny models gain nothing from more threads, and a busy machine stalls them


@pytest.fixture(autouse=True)
def one_thread():
    """Every test starts on one intra-op thread: a run inside a test sets its own (train.threads), and two
    test workers (`pytest -n 2`) each spinning two OpenMP threads on two cores slow each other sixfold."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def encoder():
    from onestep.models.text import TextEncoder

    return TextEncoder(max_length=32)
