"""The runner shares the machine fairly, survives its workers dying, shares work with another sweep on
the same folder, and keeps the allocator from undoing each training step."""
import re
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import fault_tasks
from fault_tasks import log_lines
from suite.core.config import ConfigError, RunConfig
from suite.run.records import load_records
from suite.run.runner import (CLAIMED, Execution, execute, keep_freed_memory, plan_execution, run_sweep,
                              summary_line)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _forget_test_tasks():
    yield
    fault_tasks.unregister()


TWO_CORES = pytest.mark.skipif(len(__import__("os").sched_getaffinity(0)) < 2, reason="needs 2 cores")


@pytest.mark.parametrize("cores, workers, expected", [
    (2, None, (2, 1)), (2, 1, (1, 2)), (16, 4, (4, 4)), (16, 3, (3, 5)), (1, None, (1, 1)),
])
def test_workers_times_threads_never_exceeds_the_cores(cores, workers, expected):
    execution = plan_execution(workers, "cpu", cores=cores)
    assert (execution.workers, execution.threads) == expected
    assert execution.workers * execution.threads <= cores


@pytest.mark.parametrize("workers", [0, -1, 3, 8])
def test_more_workers_than_cores_or_none_at_all_is_refused(workers):
    with pytest.raises(ConfigError, match="valid: 1 to 2"):
        plan_execution(workers, "cpu", cores=2)


def test_one_worker_on_cuda_and_progress_bars_only_with_one_worker():
    assert plan_execution(None, "cuda", cores=16).workers == 1
    assert plan_execution(None, "cpu", progress=True, cores=2).progress is False
    assert plan_execution(1, "cpu", progress=True, cores=2).progress is True


def sleep_runs(seeds, log, seconds=0.0, kill_seed=-1):
    return [RunConfig("fault_sleep", seed=s, options={"seconds": seconds, "log": str(log), "kill_seed": kill_seed})
            for s in seeds]


@TWO_CORES
def test_a_dead_worker_costs_only_its_own_run(tmp_path):
    log = tmp_path / "log"
    configs = sleep_runs(range(5), log, seconds=0.3, kill_seed=1)
    records = run_sweep(configs, tmp_path, Execution(workers=2, plugins=("fault_tasks",)), log=lambda *a: None)
    status = {r["seed"]: r["status"] for r in records}
    assert status == {0: "ok", 1: "failed", 2: "ok", 3: "ok", 4: "ok"}
    (dead,) = [r for r in records if r["status"] == "failed"]
    assert "killed by SIGKILL" in dead["error"]
    started = [seed for event, seed, _ in log_lines(log) if event == "start"]
    assert sorted(started) == [0, 1, 2, 3, 4]  # every run started once: none was resubmitted or skipped
    assert {r["seed"]: r["status"] for r in load_records(tmp_path)} == status


@TWO_CORES
def test_a_worker_killed_while_starting_breaks_no_run(tmp_path):
    # pebble declares the whole pool broken ("All workers expired") when a worker dies before it is up;
    # the runs that pool never started go to a new pool instead of being recorded failed.
    import psutil

    driver = subprocess.Popen([sys.executable, "run_suite.py", "--preset", "smoke", "--steps", "5", "--seeds", "0,1",
                               "--workers", "2", "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    workers = []
    while not workers and driver.poll() is None:
        workers = [c for c in psutil.Process(driver.pid).children()
                   if "resource_tracker" not in " ".join(c.cmdline())]
    assert workers, "the sweep ended before starting a worker"
    time.sleep(0.5)  # past the spawn handshake, still importing torch (≈ 1.5 s here)
    workers[0].kill()
    output, _ = driver.communicate(timeout=120)
    assert driver.returncode == 0, output
    assert [r["status"] for r in load_records(tmp_path)] == ["ok"] * 4


HOLD = textwrap.dedent("""
    import sys, time
    from suite.run.locks import claim
    with claim(sys.argv[1], sys.argv[2]):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
""")


def hold_claim(out, run_id, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out), run_id, str(seconds)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_run_another_process_holds_is_not_trained_here(tmp_path):
    (cfg,) = sleep_runs([0], tmp_path / "log")
    holder = hold_claim(tmp_path, cfg.run_id, 60)
    try:
        assert execute(cfg, tmp_path, Execution()) == {"run_id": cfg.run_id, "status": CLAIMED}
        assert not (tmp_path / "log").exists()
    finally:
        holder.kill()
        holder.wait()
    # killed with SIGKILL: its lock goes with it and the run is taken over
    record = execute(cfg, tmp_path, Execution(plugins=("fault_tasks",)))
    assert record["status"] == "ok" and len(log_lines(tmp_path / "log")) == 2


def test_a_sweep_waits_for_a_run_another_sweep_holds_and_reports_its_record(tmp_path):
    configs = sleep_runs([0, 1], tmp_path / "log")
    holder = hold_claim(tmp_path, configs[0].run_id, 2)
    records = run_sweep(configs, tmp_path, Execution(plugins=("fault_tasks",)), log=lambda *a: None)
    holder.wait()
    # the holder wrote no record, so once it let go this sweep trained the run itself, after run 1
    assert [seed for event, seed, _ in log_lines(tmp_path / "log") if event == "start"] == [1, 0]
    assert [r["status"] for r in records] == ["ok", "ok"]


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

    from suite.core.config import RunConfig
    from suite.run.runner import _gpu_queue

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert plan_execution(None, "cuda", cores=16).workers == 4
    queue = _gpu_queue(multiprocessing.get_context("spawn"), [RunConfig("x", device="cuda")], workers=6)
    assert sorted(queue.get(timeout=5) for _ in range(6)) == [0, 0, 1, 1, 2, 3]
    assert _gpu_queue(multiprocessing.get_context("spawn"), [RunConfig("x")], workers=2) is None  # cpu runs


def test_off_a_terminal_a_status_line_comes_at_the_interval_while_runs_execute(tmp_path):
    # each run sleeps 1 s; lines come every 10 ms, so even a loaded machine says one while seed 0 runs
    said = []
    configs = sleep_runs([0, 1], tmp_path / "log", seconds=1.0)
    records = run_sweep(configs, tmp_path, Execution(plugins=("fault_tasks",)), log=said.append, status_every=0.01)
    assert [r["status"] for r in records] == ["ok", "ok"]
    first = next(line for line in said if line.startswith("status:") and "seed 0" in line)
    assert re.fullmatch(r"status: 0/2 runs done, 0:00:\d\d elapsed, running now: fault_sleep \S+ seed 0", first)
    assert not any(line.startswith("status:") for line in said[said.index(summary_line(records[-1])) + 1:])


@TWO_CORES
def test_a_clean_multi_worker_sweep_ends_without_warning_noise(tmp_path):
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT / "tests")}
    done = subprocess.run([sys.executable, "run_suite.py", "--plugin", "fault_tasks", "--tasks", "fault_sleep",
                           "--archs", "lstm", "--seeds", "0,1,2", "--workers", "2", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "leaked semaphore" or other warning after a clean run
