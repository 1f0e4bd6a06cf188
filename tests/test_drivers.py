"""A PostgreSQL store without psycopg installed says what to install (issue 16)."""

import builtins
import sys

import pytest

from kinmatch.errors import InputError
from kinmatch.review.drivers import check_driver


def test_missing_driver_is_a_clear_message(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a))
    with pytest.raises(InputError, match=r'pip install "kinmatch\[postgres\]"'):
        check_driver("postgresql+psycopg://u:p@localhost/cases")
    check_driver("sqlite:///cases.db")  # nothing needed


def test_cli_without_psycopg(monkeypatch, capsys):
    from kinmatch.cli import main

    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name == "psycopg" or name.startswith("psycopg."):
            raise ModuleNotFoundError("No module named 'psycopg'", name="psycopg")
        return real_import(name, *args, **kwargs)

    for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    code = main(["review", "export", "--db", "postgresql+psycopg://u:p@127.0.0.1:1/none", "-o", "x.csv"])
    err = capsys.readouterr().err
    assert code == 2 and 'pip install "kinmatch[postgres]"' in err and "Traceback" not in err
