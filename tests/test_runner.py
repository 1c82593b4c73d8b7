"""The runner shares the machine fairly and keeps the allocator from undoing each training step."""
import resource
import sys

import pytest
import torch

from suite.runner import keep_freed_memory, plan_execution


@pytest.mark.parametrize("cores, workers, expected", [
    (2, None, (2, 1)), (2, 1, (1, 2)), (16, 4, (4, 4)), (16, 3, (3, 5)), (2, 8, (8, 1)), (1, None, (1, 1)),
])
def test_workers_times_threads_never_exceeds_the_cores(cores, workers, expected):
    execution = plan_execution(workers, "cpu", cores=cores)
    assert (execution.workers, execution.threads) == expected
    assert execution.workers * execution.threads <= max(cores, execution.workers)


def test_one_worker_on_cuda_and_progress_bars_only_with_one_worker():
    assert plan_execution(None, "cuda", cores=16).workers == 1
    assert plan_execution(None, "cpu", progress=True, cores=2).progress is False
    assert plan_execution(1, "cpu", progress=True, cores=2).progress is True


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_freed_large_tensor_stays_resident_for_the_next_step():
    if not keep_freed_memory():
        pytest.skip("not glibc")
    size = 96 * 2**20
    block = torch.ones(size // 4)  # touched, so resident
    with_block = _resident_bytes()
    del block
    # glibc's default would unmap a block this large on free and drop resident memory by ~96 MB.
    assert _resident_bytes() > with_block - size // 4


def test_on_cuda_one_worker_per_gpu_each_handed_its_own_gpu(monkeypatch):
    import multiprocessing

    from suite.config import RunConfig
    from suite.runner import _gpu_queue

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert plan_execution(None, "cuda", cores=16).workers == 4
    queue = _gpu_queue(multiprocessing.get_context("spawn"), [RunConfig("x", device="cuda")], workers=6)
    assert sorted(queue.get(timeout=5) for _ in range(6)) == [0, 0, 1, 1, 2, 3]
    assert _gpu_queue(multiprocessing.get_context("spawn"), [RunConfig("x")], workers=2) is None  # cpu runs
