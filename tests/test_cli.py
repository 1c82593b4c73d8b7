"""run_suite.py as a user meets it: bad input, caching, resuming, failures, reproducibility."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suite.cli import main
from suite.config import RunConfig, TrainConfig
from suite.results import load_records
from suite.tasks import TASKS, RunOutcome, Task, TaskSettings, register_task
from suite.train import TrainResult

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--preset", "smoke", "--steps", "3", "--workers", "1", "--quiet"]


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args,expected", [
    (["--archs", "no_such_arch"], "unknown architecture 'no_such_arch'; valid: "),
    (["--tasks", "no_such_task"], "unknown task 'no_such_task'; valid: "),
    (["--preset", "huge"], "unknown preset 'huge'; valid: smoke, quick, standard, paper"),
    (["--hidden", "0"], "layers and hidden must be positive"),
    (["--layers", "0"], "layers and hidden must be positive"),
    (["--tasks", "grammar_lm", "--bidirectional"], "cannot take a bidirectional model"),
    (["--skip", "dense"], "unknown skip 'dense'; valid: none, residual, highway"),
    (["--seeds", "a,b"], "expected comma-separated integers"),
    (["--option", "nonsense_key=1"], "no selected task has option 'nonsense_key'"),
    (["--plugin", "no.such.module"], "cannot import plugin"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, expected):
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
        args = ["--tasks", "test_exploding", "--archs", "lstm", "--seeds", "0,1", "--workers", "1"]
        assert main([*args, "--out", str(tmp_path)]) == 0
        records = {r["seed"]: r for r in load_records(tmp_path)}
        assert records[1]["status"] == "failed" and "boom" in records[1]["error"]
        assert records[0]["status"] == "diverged" and "step 0" in records[0]["error"]
        main([*args, "--out", str(tmp_path)])
        assert "1 cached, 1 to run" in capsys.readouterr().out  # failures retry, divergences are results
    finally:
        TASKS.pop("test_exploding")


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


def test_softmax_and_precision_reach_the_language_model_runs_and_their_records(tmp_path):
    assert main([*TINY, "--softmax", "adaptive", "--precision", "bf16", "--out", str(tmp_path)]) == 0
    records = load_records(tmp_path)
    assert records and all(r["config"]["model"]["softmax"] == "adaptive" for r in records)
    assert all(r["precision"] == "bf16" and r["device"] == "cpu" and r["status"] == "ok" for r in records)


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
