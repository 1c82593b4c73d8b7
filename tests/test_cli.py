"""run_suite.py as a user meets it: bad input, caching, resuming, failures, reproducibility."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from fault_tasks import log_lines

from suite.cli.main import main
from suite.core.config import RunConfig, TrainConfig
from suite.run import preflight
from suite.run.preflight import bf16_recurrent_supported
from suite.run.records import load_records
from suite.task import TASKS, RunOutcome, Task, TaskSettings, register_task
from suite.training.trainer import TrainResult

ROOT = Path(__file__).resolve().parents[1]
NO_BF16 = "this torch build has no bf16 LSTM/GRU kernel on this CPU (oneDNN); bf16 training cannot run here"
TINY = ["--preset", "smoke", "--steps", "3", "--workers", "1", "--quiet"]


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args,expected", [
    (["--archs", "no_such_arch"], "unknown architecture 'no_such_arch'; valid: "),
    (["--tasks", "no_such_task"], "unknown task 'no_such_task'; valid: "),
    (["--preset", "huge"], "unknown preset 'huge'; valid: smoke, quick, standard, confirm, paper"),
    (["--hidden", "0"], "model hidden must be an integer ≥ 1; got 0"),
    (["--layers", "0"], "model layers must be an integer ≥ 1; got 0"),
    (["--tasks", "grammar_lm", "--bidirectional"], "cannot take a bidirectional model"),
    (["--skip", "dense"], "model skip must be one of none, residual, highway; got 'dense'"),
    (["--seeds", "a,b"], "expected comma-separated integers"),
    (["--option", "nonsense_key=1"], "no selected task has option 'nonsense_key'"),
    (["--plugin", "no.such.module"], "cannot import plugin"),
    (["--plugin", "exits_on_import"], "plugin 'exits_on_import' called sys.exit(0) while being imported"),
    (["--tasks", ",,,"], "--tasks is empty"),
    (["--seeds", ""], "--seeds is empty"),
    (["--seeds", "99999999999999999999"], "seed 99999999999999999999 is out of range; valid: 0 to 4294967295"),
    (["--seeds", "-1"], "seed -1 is out of range"),
    (["--workers", "0"], "--workers 0 is impossible"),
    (["--workers", "100000"], "--workers 100000 is impossible"),
    (["--hidden", "10000000"], "parameters with a vocabulary of 2 and needs ≈ "),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch, args, expected):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    code, err = run_cli(capsys, *args, "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and expected in err
    assert not out.exists()


def test_unwritable_output_folder_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = run_cli(capsys, *TINY, "--out", str(blocker))
    assert code == 2 and "is a file, not a folder" in err
    code, err = run_cli(capsys, *TINY, "--out", str(blocker / "sub"))
    assert code == 2 and "cannot write to output folder" in err


def test_second_run_is_served_from_cache_and_an_interrupted_sweep_resumes(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main([*TINY, "--out", out]) == 0
    first = capsys.readouterr().out
    runs = sorted((tmp_path / "out" / "runs").glob("*.json"))
    assert len(runs) == 2
    stamps = {p: p.stat().st_mtime_ns for p in runs}
    runs[0].unlink()  # as if the sweep had been killed before this run finished
    assert main([*TINY, "--out", out]) == 0
    second = capsys.readouterr().out
    assert [p for p in runs if p.stat().st_mtime_ns != stamps.get(p)] == [runs[0]]
    assert first.split("\n")[:4] == second.split("\n")[:4]  # same table
    assert (tmp_path / "out" / "tables" / "summary.md").exists()


def test_report_command_rebuilds_tables_without_training(tmp_path, capsys):
    out = str(tmp_path / "out")
    main([*TINY, "--out", out])
    capsys.readouterr()
    (tmp_path / "out" / "tables" / "summary.md").unlink()
    assert main(["report", *TINY, "--out", out]) == 0
    assert (tmp_path / "out" / "tables" / "summary.md").exists()


def test_run_record_holds_config_versions_seed_and_timings(tmp_path):
    main([*TINY, "--archs", "gru", "--out", str(tmp_path)])
    (record,) = load_records(tmp_path)
    assert record["status"] == "ok" and record["seed"] == 0
    assert RunConfig.from_dict(record["config"]).run_id == record["run_id"]
    assert {"torch", "suite", "python"} <= set(record["versions"])
    assert record["parameters"] > 0 and record["tokens_per_second"] > 0 and record["wall_seconds"] > 0
    assert record["training"]["curve"] and "test_ppl" in record["metrics"]


@register_task
class _Exploding(Task):
    """A task whose run raises for one seed: the sweep must record it and carry on."""

    name = "test_exploding"
    description = "test-only"

    def settings(self, size):
        return TaskSettings(train=TrainConfig(steps=1))

    def run(self, cfg, progress=False):
        if cfg.seed == 1:
            raise RuntimeError("boom")
        return RunOutcome(TrainResult(status="diverged", diverged_at=0, divergence="non-finite loss at step 0"),
                          {}, 0)


def test_failed_and_diverged_jobs_are_recorded_and_other_runs_survive(tmp_path, capsys):
    try:
        args = ["--tasks", "test_exploding", "--archs", "lstm", "--seeds", "0,1", "--workers", "1", "--quiet"]
        assert main([*args, "--out", str(tmp_path)]) == 1  # a run failed
        err = capsys.readouterr().err
        assert "failed run" in err and "seed 1): RuntimeError: boom" in err  # even with --quiet
        records = {r["seed"]: r for r in load_records(tmp_path)}
        assert records[1]["status"] == "failed" and "boom" in records[1]["error"]
        assert records[0]["status"] == "diverged" and "step 0" in records[0]["error"]
        assert main([*args[:-1], "--out", str(tmp_path)]) == 1
        assert "1 cached, 1 to run" in capsys.readouterr().out  # failures retry, divergences are results
        assert main([*args[:4], "--seeds", "0", "--out", str(tmp_path)]) == 0  # only diverged: a result
        assert main([*args[:4], "--seeds", "1", "--out", str(tmp_path)]) == 1  # every run failed
        assert "no finished runs" in capsys.readouterr().out
    finally:
        TASKS.pop("test_exploding")


def test_a_corrupt_cache_entry_is_reported_set_aside_and_redone(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*TINY, "--archs", "lstm", "--out", str(out)]) == 0
    (path,) = (out / "runs").glob("*.json")
    for number, garbage in enumerate([b"\x80\xff\x00binary", b"[1, 2, 3]", b'{"status": "ok"}'], start=1):
        path.write_bytes(garbage)
        capsys.readouterr()
        assert main([*TINY, "--archs", "lstm", "--out", str(out)]) == 0
        err = capsys.readouterr().err
        assert err.count("corrupt cache entry") == 1 and err.count("\n") == 1
        kept = sorted((out / "runs" / "corrupt").iterdir(), key=lambda p: p.stat().st_mtime_ns)
        assert len(kept) == number and kept[-1].read_bytes() == garbage
        assert load_records(out)[0]["status"] == "ok"  # redone


def _fresh_process_metrics(out):
    subprocess.run([sys.executable, "run_suite.py", *TINY, "--archs", "lstm", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "random"})
    (record,) = load_records(out)
    return record["metrics"], record["training"]["curve"]


def test_same_config_and_seed_give_identical_metrics_in_two_fresh_processes(tmp_path):
    assert _fresh_process_metrics(tmp_path / "a") == _fresh_process_metrics(tmp_path / "b")


def test_a_plugin_cell_runs_against_the_zoo(tmp_path, capsys):
    assert main([*TINY, "--plugin", "examples.mgu_cell", "--archs", "mgu", "--out", str(tmp_path)]) == 0
    assert "mgu" in capsys.readouterr().out


def test_list_shows_tasks_architectures_and_presets(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "grammar_lm" in out and "rnn_tanh" in out and "standard" in out


TWO_CORES = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 worker processes")


def start_sleep_sweep(tmp_path, seconds=60):
    """A sweep of 4 sleeping runs on 2 workers, returned once both workers are inside a run."""
    log = tmp_path / "log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    driver = subprocess.Popen(
        [sys.executable, "run_suite.py", "--plugin", "fault_tasks", "--tasks", "fault_sleep", "--archs", "lstm", "--seeds", "0,1,2,3",
         "--option", f"seconds={seconds}", "--option", f"log={log}", "--workers", "2", "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while sum(e == "start" for e, _, _ in log_lines(log)) < 2:
        assert time.monotonic() < deadline and driver.poll() is None, "the workers never started"
        time.sleep(0.1)
    return driver, psutil.Process(driver.pid).children(recursive=True)


@TWO_CORES
def test_stopping_the_driver_stops_its_workers_within_seconds(tmp_path, signum=signal.SIGTERM):
    # SIGINT takes the same path (see cli.signals_as_exit); one signal keeps the suite fast
    driver, children = start_sleep_sweep(tmp_path)
    assert len(children) >= 2
    stopped = time.monotonic()
    driver.send_signal(signum)
    assert driver.wait(timeout=10) == 128 + signum
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive and time.monotonic() - stopped < 10
    assert driver.stderr.read().strip().count("\n") == 0  # one line, no traceback


@TWO_CORES
def test_workers_of_a_driver_killed_with_sigkill_finish_the_run_in_hand_then_exit(tmp_path):
    driver, children = start_sleep_sweep(tmp_path, seconds=3)
    driver.kill()
    driver.wait()
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    events = log_lines(tmp_path / "log")
    in_hand = {seed for event, seed, _ in events if event == "start"}
    assert len(in_hand) == 2 and {seed for event, seed, _ in events if event == "end"} == in_hand  # no work lost
    assert len(list((tmp_path / "out" / "runs").glob("*.json"))) == 2  # their records are written


def test_two_sweeps_on_one_folder_train_each_run_once(tmp_path):
    log = tmp_path / "log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    args = [sys.executable, "run_suite.py", "--plugin", "fault_tasks", "--tasks", "fault_sleep", "--seeds",
            "0,1,2,3,4,5", "--archs", "lstm", "--option", "seconds=0.5", "--option", f"log={log}", "--workers", "1",
            "--option", "meet=2", "--out", str(tmp_path / "out")]  # each run waits until both sweeps run one:
    # the work is shared however late the second process starts on a busy machine
    sweeps = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    outputs = [sweep.communicate(timeout=120)[0] for sweep in sweeps]
    assert [sweep.returncode for sweep in sweeps] == [0, 0]
    started = [(seed, pid) for event, seed, pid in log_lines(log) if event == "start"]
    assert sorted(seed for seed, _ in started) == [0, 1, 2, 3, 4, 5]  # each run trained once
    assert len({pid for _, pid in started}) == 2  # and the work was shared
    for out in outputs:  # each sweep reports all six: its own and the other's
        assert len(re.findall(r"fault_sleep +lstm +seed \d", out)) == 6 - int(re.search(r"(\d+) cached", out)[1])


@pytest.mark.skipif(not bf16_recurrent_supported("cpu"), reason=NO_BF16)
def test_softmax_and_precision_reach_the_language_model_runs_and_their_records(tmp_path):
    assert main([*TINY, "--softmax", "adaptive", "--precision", "bf16", "--out", str(tmp_path)]) == 0
    records = load_records(tmp_path)
    assert records and all(r["config"]["model"]["softmax"] == "adaptive" for r in records)
    assert all(r["precision"] == "bf16" and r["device"] == "cpu" and r["status"] == "ok" for r in records)


def test_bf16_where_the_device_has_no_bf16_recurrent_kernel_is_refused_up_front(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(preflight, "bf16_recurrent_supported", lambda device: False)
    out = tmp_path / "out"
    code, err = run_cli(capsys, *TINY, "--precision", "bf16", "--out", str(out))
    assert code == 2 and err.count("\n") == 1
    assert "--precision bf16 is not supported on cpu" in err and "use --precision fp32" in err
    assert not out.exists()


@pytest.mark.parametrize("args,expected", [
    (["--softmax", "hierarchical"], "invalid choice: 'hierarchical'"),
    (["--precision", "fp8"], "invalid choice: 'fp8'"),
    (["--backend", "slurm"], "invalid choice: 'slurm'"),
    (["--address", "auto"], "--address needs --backend ray"),
    (["--backend", "ray", "--device", "cuda:1"], "with --backend ray use --device cuda"),
])
def test_bad_backend_softmax_and_precision_are_one_line_exit_2(tmp_path, capsys, args, expected):
    code, err = run_cli(capsys, "--preset", "smoke", *args, "--out", str(tmp_path / "out"))
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1


WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2"


@pytest.mark.parametrize("task,option,expected", [
    ("agreement", "heldout_fraction=abc", "agreement option heldout_fraction must be a number in (0, 0.5); got 'abc'"),
    ("agreement", "heldout_fraction=null", "agreement option heldout_fraction must be a number in (0, 0.5); got null"),
    ("agreement", "nonce=abc", "agreement option nonce must be true or false; got 'abc'"),
    ("recall", "distractor_rate=abc", "recall option distractor_rate must be a number in [0, 1]; got 'abc'"),
    ("grammar_lm", "train_sentences=0", "grammar_lm option train_sentences must be an integer ≥ 1; got 0"),
    ("text_lm", "vocab_size=abc", "text_lm option vocab_size must be an integer"),
    ("text_lm", "max_train_words=abc", "text_lm option max_train_words must be an integer"),
    ("text_lm", "eval_batch_size=abc", "text_lm option eval_batch_size must be an integer"),
])
def test_a_mistyped_task_option_is_one_line_and_exit_2(tmp_path, capsys, task, option, expected):
    out = tmp_path / "out"
    corpus = ["--corpus", str(WIKITEXT)] if task == "text_lm" else []
    code, err = run_cli(capsys, "--preset", "smoke", "--tasks", task, "--option", option, *corpus, "--out", str(out))
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
