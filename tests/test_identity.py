"""A run's id covers what changes its numbers beyond the config: torch, threads, plugin source."""
import textwrap

import pytest
import torch

from suite.core.config import ModelConfig, RunConfig
from suite.run.identity import PluginError, identify, import_plugins
from suite.models.zoo import ARCHITECTURES

MY_LSTM = textwrap.dedent("""
    import torch
    from torch import nn
    from suite.models.zoo import register_cell

    class Cell(nn.Module):
        def __init__(self, input_size, hidden):
            super().__init__()
            self.hidden, self.linear = hidden, nn.Linear(input_size + hidden, hidden)

        def init_state(self, batch, device):
            return torch.zeros(batch, self.hidden, device=device)

        def forward(self, x, h):
            return torch.tanh(self.linear(torch.cat([h, x], dim=1))){extra}

    register_cell("{name}", Cell, "not an LSTM at all")
""")


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = dict(ARCHITECTURES)
    yield tmp_path
    ARCHITECTURES.clear()
    ARCHITECTURES.update(saved)


def test_two_plugins_registering_one_name_never_share_runs(plugin_dir):
    (plugin_dir / "my_cell_a.py").write_text(MY_LSTM.format(extra="", name="my_cell"))
    (plugin_dir / "my_cell_b.py").write_text(MY_LSTM.format(extra=" * 0.5", name="my_cell"))
    cfg = RunConfig("grammar_lm", ModelConfig(arch="my_cell"))
    import_plugins(["my_cell_a"])
    first = identify(cfg, 1)
    import_plugins(["my_cell_b"])  # registered last, so this one is my_cell now: a different source
    second = identify(cfg, 1)
    assert first.run_id != second.run_id
    assert list(first.identity["plugins"]) == ["my_cell_a"] and list(second.identity["plugins"]) == ["my_cell_b"]
    gru = RunConfig("grammar_lm", ModelConfig(arch="gru"))
    assert "plugins" not in identify(gru, 1).identity  # a plugin changes only the runs that use it


def test_a_plugin_cannot_replace_a_built_in_architecture_and_the_built_in_stays(plugin_dir):
    builtin = ARCHITECTURES["lstm"]
    (plugin_dir / "fake_lstm.py").write_text(MY_LSTM.format(extra="", name="lstm"))
    # before the fix: accepted, the label stayed "lstm" and the numbers changed (test ppl 369 vs 139)
    with pytest.raises(PluginError, match="plugin 'fake_lstm' registers the architecture 'lstm', which is built "
                                          "in: it would silently replace the suite's own"):
        import_plugins(["fake_lstm"])
    assert ARCHITECTURES["lstm"] is builtin
    assert "plugins" not in identify(RunConfig("grammar_lm", ModelConfig(arch="lstm")), 1).identity


def test_a_plugin_cannot_replace_a_built_in_task(plugin_dir):
    from suite.task import TASKS
    builtin = type(TASKS["grammar_lm"])
    (plugin_dir / "fake_task.py").write_text(textwrap.dedent("""
        from suite.task import Task, register_task

        @register_task
        class Fake(Task):
            name = "grammar_lm"
    """))
    with pytest.raises(PluginError, match="registers the task 'grammar_lm', which is built in"):
        import_plugins(["fake_task"])
    assert type(TASKS["grammar_lm"]) is builtin


def test_thread_count_and_torch_version_are_part_of_the_run_id():
    cfg = RunConfig("grammar_lm")
    assert identify(cfg, 1).run_id != identify(cfg, 2).run_id
    assert identify(cfg, 1).run_id == identify(cfg, 1).run_id
    assert identify(cfg, 2).identity == {"code": identify(cfg, 2).identity["code"], "torch": torch.__version__,
                                         "threads": 2}
    assert RunConfig.from_dict(identify(cfg, 2).to_dict()).run_id == identify(cfg, 2).run_id
    on_gpu = RunConfig("grammar_lm", device="cuda")  # CPU threads only feed the GPU: not part of its identity
    assert identify(on_gpu, 1).run_id == identify(on_gpu, 16).run_id


def test_a_plugin_that_exits_or_raises_on_import_is_a_plugin_error(plugin_dir):
    (plugin_dir / "leaves.py").write_text("import sys\nsys.exit(3)\n")
    (plugin_dir / "breaks.py").write_text("1 / 0\n")
    with pytest.raises(PluginError, match=r"plugin 'leaves' called sys.exit\(3\)"):
        import_plugins(["leaves"])
    with pytest.raises(PluginError, match="cannot import plugin 'breaks': ZeroDivisionError"):
        import_plugins(["breaks"])
