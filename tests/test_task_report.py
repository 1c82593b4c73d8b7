"""suite/judge/task_report.py: how the suite reads a task's records comes from the report its own package
registers (`report_of`), with TaskReport's defaults for a task that has none."""
import math
import sys

import pytest

from suite.judge.task_report import DEFAULT, TaskReport, load_reports, report_of
from suite.task import all_tasks, import_task_modules


def test_an_accuracy_with_correct_and_total_fields_is_a_proportion_with_counts():
    report = TaskReport()
    record = {"metrics": {"accuracy": 0.75, "correct": 3, "total": 4, "both_sides_accuracy": 0.5,
                          "both_sides_correct": 1, "both_sides_total": 2, "test_ppl": 17.0, "long_accuracy": 1.0}}
    assert report.counts(record, "accuracy") == (3, 4)
    assert report.counts(record, "both_sides_accuracy") == (1, 2)
    assert report.counts(record, "test_ppl") is None  # continuous
    assert report.counts(record, "long_accuracy") is None  # no counts recorded: the summary falls back to t


@pytest.mark.parametrize("metrics, score", [
    ({"valid_ppl": 20.0}, -20.0),
    ({"valid_ppl": math.nan}, -math.inf),  # diverged: never preferred
    ({"valid_ppl": None}, -math.inf),
    ({}, -math.inf),
])
def test_the_default_tuning_choice_prefers_the_lower_validation_perplexity(metrics, score):
    assert TaskReport().validation_score({"metrics": metrics}) == score


def test_a_task_is_read_by_its_own_packages_report_not_by_another_page_that_judges_it():
    reports = load_reports()
    assert "recall" in reports["gru_vs_lstm"].tasks  # the GRU/LSTM page judges recall records too …
    assert report_of("recall") is reports["recall"]  # … but recall's own report says how they read
    assert report_of("bidir_tag") is reports["bidirectional"]
    assert report_of("gru_vs_lstm") is reports["gru_vs_lstm"]
    assert report_of("no such task") is DEFAULT and DEFAULT.headline == ()


def test_a_shipped_report_chooses_as_the_tasks_own_tuning_rule_did():
    """recall and bidir_tag choose by their own validation scores, not by the default's perplexity."""
    better, worse = ({"metrics": {"valid_accuracy": a, "valid_key_logprob": -1.0, "valid_token_accuracy": a,
                                  "valid_right_only_accuracy": a, "valid_ppl": 1 / a}} for a in (0.9, 0.5))
    for task in ("recall", "bidir_tag", "text_lm"):
        assert report_of(task).validation_score(better) > report_of(task).validation_score(worse)
    assert report_of("recall").validation_score({"metrics": {}}) == (-math.inf, -math.inf)


def test_every_summary_metric_is_one_the_run_cache_checks_is_a_number():
    """The summary table reads the report's headline; the run cache sets aside a record whose
    `Task.numeric_metrics` are not numbers: every headline metric of a shipped task must be among them."""
    shipped = {name: task for name, task in all_tasks().items() if type(task).__module__.startswith("tasks.")}
    unchecked = {name: sorted(set(report_of(name).headline) - set(task.numeric_metrics))
                 for name, task in shipped.items()}
    assert len(shipped) == 12 and {name: left for name, left in unchecked.items() if left} == {}


def test_task_modules_are_imported_beside_the_tasks_that_have_one():
    import_task_modules("probes")
    assert {"tasks.agreement.probes", "tasks.recall.probes"} <= set(sys.modules)
    import_task_modules("no_such_module")  # a package without one is passed over
    assert not any(name.endswith(".no_such_module") for name in sys.modules)


def test_a_task_module_that_registers_a_task_on_import_does_not_stop_the_walk(tmp_path, monkeypatch):
    """A `report` module that registers a task of its own grows the registry while it is walked."""
    package = tmp_path / "grows_on_import"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "task.py").write_text(
        "from suite.task import Task, register_task\n\n"
        "@register_task\nclass First(Task):\n    name = 'grows_first'\n")
    (package / "report.py").write_text(
        "from suite.task import Task, register_task\n\n"
        "@register_task\nclass Second(Task):\n    name = 'grows_second'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from suite import task as registry
    monkeypatch.setattr(registry, "TASKS", dict(all_tasks()))  # the real registry is left as it was
    __import__("grows_on_import.task")
    try:
        import_task_modules("report")
        assert {"grows_first", "grows_second"} <= set(registry.TASKS)
    finally:
        for name in ("grows_on_import.report", "grows_on_import.task", "grows_on_import"):
            sys.modules.pop(name, None)
