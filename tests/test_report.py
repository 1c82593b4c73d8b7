"""REPORT.md: claims first, a section per task, provenance; rebuilt from records alone."""
from suite.config import ModelConfig, RunConfig
from suite.report import write_outputs


def record(arch, seed, ppl):
    cfg = RunConfig("grammar_lm", ModelConfig(arch=arch), seed=seed)
    return {"run_id": cfg.run_id, "label": arch, "config": cfg.to_dict(), "status": "ok", "seed": seed,
            "metrics": {"test_ppl": ppl, "valid_ppl": ppl, "unigram_ppl": 60.0},
            "versions": {"torch": "x", "suite": "y", "python": "z"}, "threads": 1, "wall_seconds": 3.0}


def test_report_has_claims_summary_task_sections_and_provenance(tmp_path):
    records = [record(a, s, p + s) for a, p in [("lstm", 10.0), ("rnn_tanh", 20.0)] for s in range(3)]
    records.append({**record("gru", 0, 1.0), "status": "failed", "error": "RuntimeError: boom"})
    summary = write_outputs(tmp_path, records, command="python run_suite.py --x", preset="quick",
                            log=lambda *a: None)
    report = (tmp_path / "REPORT.md").read_text()
    assert report.index("## Claims") < report.index("## Summary") < report.index("## grammar_lm") \
        < report.index("## Provenance")
    assert "`python run_suite.py --x`" in report and "`python run_suite.py report --x`" in report
    assert "11 [" in summary  # lstm mean over seeds 10, 11, 12 with its interval
    assert "1 failed" in report and "boom" in report
    assert (tmp_path / "tables" / "summary.csv").exists()
    assert (tmp_path / "tables" / "grammar_lm_perplexity.md").exists()
