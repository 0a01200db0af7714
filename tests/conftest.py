import os

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def encoder():
    from onestep.models.text import TextEncoder

    return TextEncoder(max_length=32)
