"""Build the tables kinmatch works out from its own shipped tables (``kinmatch.data.BUILT``).

Run through ``python tools/build_data.py --only built`` (it runs last, after the tables it reads),
or directly: ``python tools/build_built.py``. Needs no ``../shared``: the inputs are the shipped
tables in ``kinmatch/data/``. Each table is computed by the very function a run would call (so a
run reads exactly what it would have computed) and written as ``NAME.parquet`` with the
fingerprint of its inputs; a run that finds the fingerprint stale computes the table itself.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MODULES = ("kinmatch.normalize.places", "kinmatch.normalize.text", "kinmatch.normalize.phonetics")
"""Modules that declare built tables (importing them fills ``kinmatch.data.BUILT``)."""


def build(shared: Path | None, out: Path) -> list[Path]:
    """Write every built table into ``out`` (``shared`` is not read)."""
    sys.path.insert(0, str(REPO))
    from kinmatch.data import BUILT

    for module in MODULES:
        importlib.import_module(module)
    return [table.write(out) for _name, table in sorted(BUILT.items())]


if __name__ == "__main__":
    for path in build(None, REPO / "kinmatch" / "data"):
        print(f"built: wrote {path.relative_to(REPO)} ({path.stat().st_size / 1024:.0f} KiB)")
