"""run_suite.py's sub-commands: found wherever they stand, each doing what it says, the reproduction command
written from what was parsed, and `preregister` planning the confirm preset from a finished pilot."""
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from fault_tasks import unregister

from suite.cli.args import split_command
from suite.cli.main import DEFAULT_OUT, build_parsers, main
from suite.run import seed_blocks
from suite.run.records import load_records

TINY = ["--preset", "smoke", "--steps", "3", "--workers", "1", "--quiet"]
PILOT = ["--plugin", "fault_tasks", "--tasks", "fault_sleep", "--archs", "lstm", "--workers", "1", "--quiet"]


@pytest.fixture(autouse=True)
def _no_fault_tasks_after():
    yield
    unregister()


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


def test_a_sub_command_after_options_is_that_sub_command_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run_cli(capsys, "--preset", "smoke", "eval", "--out", str(out))
    assert code == 2 and "nothing to score" in err and err.count("\n") == 1
    assert not out.exists()  # before the fix: two runs trained and exit 0


def test_a_flag_value_that_spells_a_command_is_a_value():
    _, parsers = build_parsers()
    from suite.cli.eval import build_parser as eval_parser
    find = lambda argv: split_command(argv, ["run", "report", "preregister", "eval"],
                                      [parsers["run"], eval_parser()], "run")
    assert find(["--out", "run", "--preset", "smoke"]) == ("run", ["--out", "run", "--preset", "smoke"])
    assert find(["--out", "report"]) == ("run", ["--out", "report"])
    assert find(["--out=eval", "report"]) == ("report", ["--out=eval"])
    assert find(["--quiet", "report", "--out", "x"]) == ("report", ["--quiet", "--out", "x"])
    assert find(["--testset", "eval", "eval"]) == ("eval", ["--testset", "eval"])


def test_an_unknown_command_is_one_line_and_exit_2(capsys):
    code, err = run_cli(capsys, "--quiet", "evl")
    assert code == 2 and err == "run_suite.py: error: unknown command 'evl'; valid: run, report, preregister, " \
                                "eval (default: run)\n"


def test_the_reproduction_command_is_written_from_the_parsed_arguments(tmp_path):
    out = tmp_path / "run"  # a folder named like a command
    assert main([*TINY, "--option", "train_sentences=50", "--out", str(out)]) == 0
    written = next(line for line in (out / "REPORT.md").read_text().splitlines() if line.startswith("- command:"))
    command = written.removeprefix("- command:").strip().strip("`")
    words = shlex.split(command)
    assert words[words.index("--out") + 1] == str(out)  # before the fix: "--out" with its folder missing
    assert words[words.index("--option") + 1] == "train_sentences=50"
    assert "--quiet" not in words
    # and that command, run as report, serves every run from the cache
    assert main(["report", *words[2:], "--quiet"]) == 0


def test_report_on_a_folder_without_runs_is_exit_2_and_creates_nothing(tmp_path, capsys):
    new = tmp_path / "new"
    code, err = run_cli(capsys, "report", *TINY, "--out", str(new))
    assert code == 2 and err.count("\n") == 1 and "no runs under" in err and "run the sweep first" in err
    assert not new.exists()  # before the fix: exit 1, and the folder was created


def test_report_with_none_of_the_sweeps_runs_is_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    code, err = run_cli(capsys, "report", *TINY, "--out", str(out))
    assert code == 2 and err.count("\n") == 1 and "none of the 2 runs of this sweep is finished" in err
    assert sorted(p.name for p in out.iterdir()) == ["runs"]


def test_the_default_output_folder_is_not_the_committed_reference():
    _, parsers = build_parsers()
    assert parsers["run"].parse_args([]).out == DEFAULT_OUT
    assert DEFAULT_OUT.as_posix() == "results/latest"


def test_preregister_writes_the_plan_from_a_finished_pilot(tmp_path, capsys, monkeypatch):
    target = tmp_path / "preregistration" / "confirm.json"
    monkeypatch.setattr(seed_blocks, "registration_path", lambda: target)
    out = str(tmp_path / "pilot")
    assert main([*PILOT, "--seeds", "0,1", "--out", out]) == 0
    capsys.readouterr()
    assert main(["preregister", *PILOT, "--seeds", "0,1", "--out", out]) == 0
    printed = capsys.readouterr().out
    registration = json.loads(target.read_text())
    assert registration["pilot"]["seeds"] == [0, 1]
    entry = registration["tasks"]["fault_sleep"]
    assert (entry["seeds"], entry["seeds_needed"], entry["first_seed"]) == (3, 3, 2000)
    assert "fault_sleep" in printed and "3 confirmatory seeds from 2000" in printed
    command = shlex.split(registration["pilot"]["command"])  # the pilot's own run command
    assert command[2:4] == ["--preset", "standard"] and command[command.index("--out") + 1] == out


def test_preregister_redesign_moves_a_task_to_a_fresh_block_and_refuses_an_unregistered_one(tmp_path, capsys,
                                                                                               monkeypatch):
    target = tmp_path / "confirm.json"
    monkeypatch.setattr(seed_blocks, "registration_path", lambda: target)
    out = str(tmp_path / "pilot")
    assert main([*PILOT, "--seeds", "0,1", "--out", out]) == 0
    assert main(["preregister", *PILOT, "--seeds", "0,1", "--out", out]) == 0
    capsys.readouterr()
    code, err = run_cli(capsys, "preregister", *PILOT, "--seeds", "0,1", "--out", out, "--redesign", "grammar_lm")
    assert code == 2 and err.count("\n") == 1 and "cannot redesign grammar_lm" in err
    code, err = run_cli(capsys, "preregister", *PILOT, "--seeds", "0,1", "--out", out, "--amend",
                        "--redesign", "fault_sleep")
    assert code == 2 and "not allowed with argument" in err
    assert main(["preregister", *PILOT, "--seeds", "0,1", "--out", out, "--redesign", "fault_sleep"]) == 0
    printed = capsys.readouterr().out
    registration = json.loads(target.read_text())
    assert registration["tasks"]["fault_sleep"]["first_seed"] == 3000 and "3 confirmatory seeds from 3000" in printed
    assert registration["amendments"][-1]["superseded"]["tasks"]["fault_sleep"]["first_seed"] == 2000


@pytest.mark.parametrize("pilot_seeds,seeds,expected", [
    ("1000", "1000", "has runs on non-exploratory seeds (1000)"),
    (None, "0", "no runs under"),
])
def test_preregister_refuses_a_pilot_it_cannot_plan_from(tmp_path, capsys, monkeypatch, pilot_seeds, seeds,
                                                         expected):
    target = tmp_path / "confirm.json"
    monkeypatch.setattr(seed_blocks, "registration_path", lambda: target)
    out = str(tmp_path / "pilot")
    if pilot_seeds:
        assert main([*PILOT, "--seeds", pilot_seeds, "--out", out]) == 0
        capsys.readouterr()
    code, err = run_cli(capsys, "preregister", *PILOT, "--seeds", seeds, "--out", out)
    assert code == 2 and err.count("\n") == 1 and expected in err
    assert not target.exists()


def _corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        (folder / f"{split}.txt").write_text("the cat sat on the mat .\n" * 50)
    return folder


def test_a_corpus_the_user_may_not_read_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import tasks.text_lm.task as text_lm

    folder = _corpus(tmp_path)
    def denied(spec):
        raise PermissionError(13, "Permission denied", str(folder / "train.txt"))
    monkeypatch.setattr(text_lm, "check_local_corpus", denied)  # root may read anything: the OS error as a
    out = tmp_path / "out"                                          # user without permission meets it
    code, err = run_cli(capsys, "--tasks", "text_lm", "--corpus", str(folder), "--out", str(out))
    assert code == 2 and err.count("\n") == 1  # before the fix: a 35-line PermissionError traceback
    assert f"cannot read '{folder / 'train.txt'}': Permission denied" in err
    assert not out.exists()


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root reads any folder whatever its permissions")
def test_an_unreadable_corpus_folder_is_one_line_and_exit_2(tmp_path, capsys):
    folder = _corpus(tmp_path)
    folder.chmod(0)
    try:
        code, err = run_cli(capsys, "--tasks", "text_lm", "--corpus", str(folder), "--out", str(tmp_path / "out"))
    finally:
        folder.chmod(0o755)
    assert code == 2 and err.count("\n") == 1 and "Permission denied" in err


@pytest.mark.parametrize("argv", [["--list"], ["--preset", "smoke", "--dry-run"]])
def test_output_into_a_reader_that_has_gone_is_exit_141_without_a_traceback(argv):
    # before the fix: `--dry-run | head -1` ended in a BrokenPipeError traceback
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write fails, whatever the buffer size
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "run_suite.py"), *argv], stdout=write,
                          stderr=subprocess.PIPE, text=True, cwd=root, timeout=120)
    os.close(write)
    assert (done.returncode, done.stderr) == (141, "")
