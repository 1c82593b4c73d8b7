"""Run records on disk and the tables derived from them."""
import json
import math
import os

import pytest

from suite.core.config import ModelConfig, RunConfig
from suite.run.records import cached_record, load_records, record_path
from suite.judge.tables import summarise, to_markdown
from suite.core.files import write_json_atomic
from suite.judge.stats import t_critical


def record(arch="lstm", seed=0, status="ok", **metrics):
    cfg = RunConfig("grammar_lm", ModelConfig(arch=arch), seed=seed)
    return {"run_id": cfg.run_id, "label": cfg.model.label, "config": cfg.to_dict(), "status": status,
            "metrics": metrics}


def test_run_id_is_a_hash_of_the_full_config():
    a, b = RunConfig("grammar_lm", seed=0), RunConfig("grammar_lm", seed=0)
    assert a.run_id == b.run_id
    assert a.run_id != RunConfig("grammar_lm", seed=1).run_id
    assert a.run_id != RunConfig("grammar_lm", options={"x": 1}).run_id
    assert RunConfig.from_dict(json.loads(json.dumps(a.to_dict()))).run_id == a.run_id


def test_atomic_write_leaves_no_partial_file_on_failure(tmp_path):
    path = tmp_path / "runs" / "x.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_only_finished_runs_count_as_cached(tmp_path):
    for status in ("ok", "diverged", "failed"):
        r = record(status=status, seed={"ok": 0, "diverged": 1, "failed": 2}[status],
                   **({"test_ppl": 150.0} if status == "ok" else {}))
        write_json_atomic(record_path(tmp_path, r["run_id"]), r)
        assert (cached_record(tmp_path, r["run_id"]) is not None) == (status != "failed")


@pytest.mark.parametrize("content, problem", [
    (b"\x80\xff garbage", "not UTF-8 text"),
    (b"{half a fi", "not JSON"),
    (b"[1, 2, 3]", "a JSON list, not a run record"),
    (b'{"status": "ok"}', "not a run record (no run_id, config)"),
    (b'{"run_id": "RID", "status": "done", "config": {}}', "unknown status 'done'"),
    (b'{"run_id": "someone-else", "status": "ok", "config": {}}', "holds run 'someone-else'"),
    (b'{"run_id": "RID", "status": "ok", "config": {"task": 1}}', "its config is not a run config"),
])
def test_a_corrupt_entry_is_reported_in_one_line_set_aside_and_not_served(tmp_path, content, problem):
    good = record()
    path = record_path(tmp_path, good["run_id"])
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b"RID", good["run_id"].encode()))
    warnings = []
    assert cached_record(tmp_path, good["run_id"], warn=warnings.append) is None
    (warning,) = warnings
    assert problem in warning and "\n" not in warning and "will be redone" in warning
    assert not path.exists() and [p.read_bytes() for p in (path.parent / "corrupt").iterdir()] == [
        content.replace(b"RID", good["run_id"].encode())]


@pytest.mark.parametrize("metrics, problem", [
    ({}, "an ok run with no metrics"),
    ({"test_ppl": "150"}, "an ok run whose metric 'test_ppl' is not a number (str '150')"),
    ({"test_ppl": True}, "is not a number"),
    ({"test_ppl": [150]}, "is not a number"),
])
def test_an_ok_record_without_metrics_or_with_a_non_numeric_headline_is_set_aside_and_redone(tmp_path, metrics, problem):
    bad = record(**metrics)
    path = record_path(tmp_path, bad["run_id"])
    write_json_atomic(path, bad)
    warnings = []
    assert cached_record(tmp_path, bad["run_id"], warn=warnings.append) is None  # before the fix: served
    assert problem in warnings[0] and "will be redone" in warnings[0] and not path.exists()
    fine = record(valid_ppl=150.0, extra="any other metric may be text")  # a headline may be absent
    write_json_atomic(path, fine)
    assert cached_record(tmp_path, fine["run_id"])["metrics"] == fine["metrics"]


@pytest.mark.parametrize("make, problem", [
    (lambda path: (path / "inner").mkdir(parents=True), "not a file (a folder)"),
    (lambda path: os.mkfifo(path), "not a file (a special file)"),
])
def test_a_folder_or_pipe_in_place_of_a_run_file_is_set_aside_like_a_corrupt_file(tmp_path, make, problem):
    good = record(test_ppl=150.0)
    path = record_path(tmp_path, good["run_id"])
    path.parent.mkdir(parents=True)
    make(path)
    warnings = []
    # before the fix: NotADirectoryError on every rerun, and a 0-byte file left in corrupt/ each time
    assert cached_record(tmp_path, good["run_id"], warn=warnings.append) is None
    assert problem in warnings[0] and not os.path.lexists(path)
    (kept,) = (path.parent / "corrupt").iterdir()
    assert kept.is_dir() == ("folder" in problem)
    write_json_atomic(path, good)  # the run can now be recorded in its place
    assert cached_record(tmp_path, good["run_id"])["metrics"] == good["metrics"]
    assert len(list((path.parent / "corrupt").iterdir())) == 1


def test_a_record_whose_config_was_edited_no_longer_matches_its_run_id(tmp_path):
    edited = record()
    edited["config"]["seed"] = 5
    write_json_atomic(record_path(tmp_path, edited["run_id"]), edited)
    warnings = []
    assert load_records(tmp_path, warn=warnings.append) == []
    assert "does not hash to its run id" in warnings[0]


def test_summarise_gives_t_intervals_over_seeds_and_counts_divergence():
    records = [record(seed=s, test_loss=v) for s, v in enumerate([10.0, 12.0, 14.0])]
    records.append(record(seed=3, status="diverged"))
    records.append(record("gru", seed=0, test_loss=9.0))
    table = summarise(records, ["test_loss"]).set_index("model")
    assert table.loc["lstm", "test_loss"] == 12.0
    assert table.loc["lstm", "test_loss_high"] - 12.0 == pytest.approx(t_critical(2) * 2 / math.sqrt(3))
    assert table.loc["lstm", "runs"] == 4 and table.loc["lstm", "diverged"] == 1
    assert math.isnan(table.loc["gru", "test_loss_low"])
    md = to_markdown(table.reset_index())
    assert "12 [" in md and "| 9 " in md


def test_a_perplexity_is_averaged_on_the_log_scale_so_its_interval_stays_positive():
    ppls = [17.0, 17.5, 80.0]  # one seed that failed to train: a t-interval on the ppl itself goes below 0
    table = summarise([record(seed=s, test_ppl=v) for s, v in enumerate(ppls)], ["test_ppl"]).iloc[0]
    logs = [math.log(v) for v in ppls]
    mean, sd = sum(logs) / 3, math.sqrt(sum((x - sum(logs) / 3) ** 2 for x in logs) / 2)
    assert table["test_ppl"] == pytest.approx(math.exp(mean))
    assert table["test_ppl_low"] == pytest.approx(math.exp(mean - t_critical(2) * sd / math.sqrt(3)))
    assert table["test_ppl_low"] > 0
    assert table["test_ppl_high"] == pytest.approx(math.exp(mean + t_critical(2) * sd / math.sqrt(3)))


def test_a_proportion_with_counts_gets_a_binomial_interval_inside_zero_one():
    accuracies = [(1000, 1000), (500, 1000), (1000, 1000)]  # bimodal seeds: the t-interval is [0.12, 1.55]
    records = [record(seed=s, accuracy=k / n, correct=k, total=n) for s, (k, n) in enumerate(accuracies)]
    counts = lambda r, m: (r["metrics"]["correct"], r["metrics"]["total"]) if m == "accuracy" else None
    row = summarise(records, ["accuracy"], counts=counts).iloc[0]
    assert row["accuracy"] == pytest.approx(2500 / 3000)
    assert 0 <= row["accuracy_low"] < row["accuracy"] < row["accuracy_high"] <= 1
    without = summarise(records, ["accuracy"]).iloc[0]
    assert without["accuracy_high"] > 1  # what the counts prevent


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)
    previous = os.umask(0o022)
    yield set_mask
    os.umask(previous)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_result_files_honour_the_umask(tmp_path, umask, mask, mode):
    from suite.run.outputs import write_json_atomic, write_text_atomic
    umask(mask)
    write_json_atomic(tmp_path / "a.json", {"a": 1})
    write_text_atomic(tmp_path / "b.md", "text")
    # before the fix: 0600 whatever the umask (mkstemp's mode), unreadable to colleagues
    assert [oct(p.stat().st_mode & 0o777) for p in (tmp_path / "a.json", tmp_path / "b.md")] == [oct(mode)] * 2


def test_a_results_folder_written_under_umask_022_is_readable_by_everyone(tmp_path, umask):
    import fault_tasks
    from suite.cli.main import main
    umask(0o022)
    out = tmp_path / "out"
    try:
        assert main(["--plugin", "fault_tasks", "--tasks", "fault_sleep", "--archs", "lstm", "--workers", "1",
                     "--quiet", "--out", str(out)]) == 0
    finally:
        fault_tasks.unregister()
    entries = [p for p in out.rglob("*") if ".locks" not in p.parts]
    assert any(p.name == "REPORT.md" for p in entries) and any(p.suffix == ".json" for p in entries)
    wrong = {str(p.relative_to(out)): oct(p.stat().st_mode & 0o777) for p in entries
             if p.stat().st_mode & 0o777 != (0o755 if p.is_dir() else 0o644)}
    assert wrong == {}
