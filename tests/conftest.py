import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Tests use tiny models: one thread is fastest and keeps results independent of the machine.
    torch.set_num_threads(1)


# Property-based tests draw the same examples on every run, so CI cannot flake on a rare draw.
from hypothesis import settings  # noqa: E402

settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.load_profile("deterministic")
