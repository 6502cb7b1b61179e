"""common.py: the pyroute2 requirement as users meet it."""

from __future__ import annotations

import importlib.metadata
import sys
import traceback

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import common


class Failed(Exception):
    pass


class Module:
    def fail_json(self, **result):
        raise Failed(result)


def test_a_missing_pyroute2_reads_as_such_on_python_3_9(monkeypatch):
    plain = traceback.format_exception

    def format_exception(etype, value, tb, limit=None, chain=True):  # Python 3.9's signature
        return plain(etype, value, tb, limit=limit, chain=chain)

    def no_metadata(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(traceback, "format_exception", format_exception)
    # pyroute2 is not installed: no package metadata, and import pyroute2 raises ImportError
    monkeypatch.setattr(importlib.metadata, "version", no_metadata)
    monkeypatch.setitem(sys.modules, "pyroute2", None)
    with pytest.raises(Failed) as failed:
        common.require_pyroute2(Module())
    result = failed.value.args[0]
    assert "pyroute2 >= 0.9" in result["msg"] and "ModuleNotFoundError" in result["exception"]


def test_an_old_pyroute2_is_named_with_its_version(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyroute2", type(sys)("pyroute2"))
    sys.modules["pyroute2"].__version__ = "0.7.2"
    with pytest.raises(Failed, match="pyroute2 0.7.2 is too old"):
        common.require_pyroute2(Module())
