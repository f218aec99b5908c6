"""The `funding-finder` entry point: Ctrl-C while the modules load ends with 130 and no traceback."""

import signal
import sys
import types

import pytest

from funding_finder.__main__ import _exit_130, run


@pytest.fixture(autouse=True)
def handlers(monkeypatch):
    """The handlers `run` would install, kept here instead of in the test process."""
    installed = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: installed.__setitem__(sig, handler))
    return installed


def test_ctrl_c_while_loading_exits_130(monkeypatch):
    loading = types.ModuleType("funding_finder.cli")

    def interrupted(name):
        raise KeyboardInterrupt

    loading.__getattr__ = interrupted  # `from funding_finder.cli import main` is interrupted
    monkeypatch.setitem(sys.modules, "funding_finder.cli", loading)
    with pytest.raises(SystemExit) as stopped:
        run()
    assert stopped.value.code == 130


def test_ctrl_c_exits_130_at_once_until_a_command_handles_it(handlers, monkeypatch):
    cli = types.ModuleType("funding_finder.cli")
    cli.main = lambda: None
    monkeypatch.setitem(sys.modules, "funding_finder.cli", cli)
    run()
    assert handlers == {signal.SIGINT: _exit_130}


def test_the_entry_point_runs_the_cli(monkeypatch):
    called = []
    cli = types.ModuleType("funding_finder.cli")
    cli.main = lambda: called.append(True)
    monkeypatch.setitem(sys.modules, "funding_finder.cli", cli)
    run()
    assert called == [True]
