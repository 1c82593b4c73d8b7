import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Tests use tiny models: one thread is fastest and keeps results independent of the machine.
    torch.set_num_threads(1)
