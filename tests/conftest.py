import os

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(1)  # tiny models gain nothing from more threads, and a busy machine stalls them


@pytest.fixture(scope="session")
def encoder():
    from onestep.models.text import TextEncoder

    return TextEncoder(max_length=32)
