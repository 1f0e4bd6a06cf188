"""The database driver a case store URL needs, checked before connecting so a missing one is a
clear message rather than a ``ModuleNotFoundError`` from deep inside SQLAlchemy.

SQLite is in Python itself; PostgreSQL needs psycopg, which a plain ``pip install kinmatch`` does
not bring (most stations run the store as one SQLite file): ``pip install "kinmatch[postgres]"``.

    >>> check_driver("sqlite:///cases.db")
    >>> missing_driver_message("psycopg").split(";")[0]
    'the case store is on a PostgreSQL server, which needs the psycopg driver, and it is not installed'
"""

from __future__ import annotations

import importlib.util

from kinmatch.errors import InputError

__all__ = ["check_driver", "missing_driver_message", "DRIVERS"]

DRIVERS = {"postgresql": "psycopg", "postgresql+psycopg": "psycopg"}
"""URL scheme → the Python module it needs (schemes not listed need nothing beyond kinmatch)."""


def missing_driver_message(module: str) -> str:
    """What to tell a user whose store URL needs ``module``, which is not installed."""
    return (f"the case store is on a PostgreSQL server, which needs the {module} driver, and it is not installed; "
            f"install it with: pip install \"kinmatch[postgres]\" (or use a SQLite file: --db cases.db)")


def check_driver(url: str) -> None:
    """Raise :class:`~kinmatch.errors.InputError` saying what to install when ``url``'s driver is
    missing."""
    scheme = str(url).split("://", 1)[0].lower() if "://" in str(url) else ""
    module = DRIVERS.get(scheme)
    if scheme.startswith("postgresql+") and module is None:
        module = scheme.split("+", 1)[1]
    if module and importlib.util.find_spec(module) is None:
        raise InputError(missing_driver_message(module))
