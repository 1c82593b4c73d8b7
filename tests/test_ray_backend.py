"""--backend ray: sweeps on a real local Ray cluster (127.0.0.1) give the local pool's records, survive a
killed worker, and refuse a missing Ray or an unreachable address in one line before anything runs."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from suite.cli.main import main
from suite.core.config import RunConfig
from suite.run.identity import identify
from suite.run.records import cached_record, runs_dir
from suite.run.runner import Execution, _train, record_failure, run_sweep
from suite.run.sweep import PRESETS, Overrides, expand
from suite.task import TASKS

ray = pytest.importorskip("ray")
from suite.run import ray_backend  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "ray_sleepy_task"
# A task that records each attempt's worker pid and, on its first attempt only, waits to be killed.
PLUGIN_SOURCE = textwrap.dedent('''
    import os, time
    from dataclasses import dataclass
    from pathlib import Path
    from suite.core.options import TaskOptions
    from suite.task import RunOutcome, Task, register_task
    from suite.training.trainer import TrainResult

    @dataclass(frozen=True)
    class SleepyOptions(TaskOptions):
        pid_dir: str = ""

    @register_task
    class Sleepy(Task):
        name = "ray_sleepy"
        Options = SleepyOptions

        def run(self, cfg, progress=False):
            pid_dir = Path(cfg.options["pid_dir"])
            attempt = len(list(pid_dir.glob("*.pid")))
            (pid_dir / f"{attempt}.pid").write_text(str(os.getpid()))
            if attempt == 0:
                time.sleep(60)
            return RunOutcome(TrainResult(), {"attempt": attempt}, 0)
''')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    plugin_dir = tmp_path_factory.mktemp("plugin")
    (plugin_dir / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE)
    sys.path.insert(0, str(plugin_dir))
    __import__(PLUGIN)
    # The plugin lives only in the driver's sys.path: workers can import it only through the runtime env.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", runtime_env=ray_backend.runtime_env([PLUGIN]))
    yield
    ray.shutdown()
    sys.path.remove(str(plugin_dir))
    TASKS.pop("ray_sleepy")  # later tests expand every registered task
    sys.modules.pop(PLUGIN)


def test_run_suite_smoke_on_a_local_ray_cluster_gives_the_local_backends_records_then_caches(tmp_path):
    cores = len(os.sched_getaffinity(0))
    argv = ["--preset", "smoke", "--steps", "8", "--workers", str(cores)]  # 1 thread per run, as below
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # its own throwaway cluster
    done = subprocess.run([sys.executable, "run_suite.py", *argv, "--backend", "ray", "--out", str(tmp_path / "ray")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    configs = [identify(cfg, threads=1) for cfg in expand(PRESETS["smoke"], Overrides(steps=8))]
    local = run_sweep(configs, tmp_path / "local", Execution(1, 1), log=lambda *a: None)
    for record in local:
        on_ray = cached_record(tmp_path / "ray", record["run_id"])
        assert on_ray["status"] == record["status"] == "ok"
        assert on_ray["metrics"] == record["metrics"]
        assert on_ray["training"]["curve"] == record["training"]["curve"]
    assert not [p for p in runs_dir(tmp_path / "ray").iterdir() if p.suffix != ".json"]  # no temp files
    lines = []
    run_sweep(configs, tmp_path / "ray", Execution(cores, 1, backend="ray"), log=lines.append)
    assert lines == [f"2 runs: 2 cached, 0 to run ({cores} worker(s) × 1 thread(s))"]


def _kill_first_attempt(pid_dir: Path) -> threading.Thread:
    def kill():
        pid_file = pid_dir / "0.pid"
        for _ in range(600):
            if pid_file.exists() and pid_file.read_text():
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
                return
            time.sleep(0.05)
    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def _sleepy_config(tmp_path: Path, name: str) -> RunConfig:
    pid_dir = tmp_path / name
    pid_dir.mkdir()
    return RunConfig("ray_sleepy", options={"pid_dir": str(pid_dir)})


def test_a_run_whose_worker_is_killed_is_retried_and_the_sweep_completes(cluster, tmp_path):
    cfg = _sleepy_config(tmp_path, "pids")
    killer = _kill_first_attempt(tmp_path / "pids")
    execution = Execution(1, 1, plugins=(PLUGIN,), backend="ray")
    records = run_sweep([cfg], tmp_path / "out", execution, log=lambda *a: None)
    killer.join()
    assert records[0]["status"] == "ok" and records[0]["metrics"] == {"attempt": 1}
    assert cached_record(tmp_path / "out", cfg.run_id)["metrics"] == {"attempt": 1}


def test_without_retries_a_killed_worker_is_recorded_failed_with_the_cause_and_rerun_next_time(cluster, tmp_path):
    cfg = _sleepy_config(tmp_path, "pids")
    killer = _kill_first_attempt(tmp_path / "pids")
    execution = Execution(1, 1, plugins=(PLUGIN,), backend="ray")
    (record,) = ray_backend.run([cfg], tmp_path / "out", execution, _train, record_failure, retries=0)
    killer.join()
    assert record["status"] == "failed" and "Ray worker died" in record["error"]
    assert cached_record(tmp_path / "out", cfg.run_id) is None  # failed: not a result, so retried
    again = run_sweep([cfg], tmp_path / "out", replace(execution), log=lambda *a: None)
    assert again[0]["status"] == "ok"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_address_is_one_line_exit_2_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "run_suite.py", "--preset", "smoke", "--backend", "ray",
                           "--address", f"127.0.0.1:{_free_port()}", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot reach the Ray cluster" in done.stderr
    assert not out.exists() and time.perf_counter() - started < 30


def test_without_ray_installed_the_install_command_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when Ray is absent
    with pytest.raises(SystemExit) as stop:
        main(["--preset", "smoke", "--backend", "ray", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install -e '.[ray]'" in err
    assert not (tmp_path / "out").exists()


def test_address_needs_the_ray_backend(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--preset", "smoke", "--address", "auto", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and "--backend ray" in capsys.readouterr().err
