"""Build the runtime reference tables in ``kinmatch/data/`` from the raw sources in ``../shared/data``.

Usage: ``python tools/build_data.py [--shared ../shared/data] [--only NAME ...]``

Each ``tools/build_<name>.py`` module defines ``build(shared: Path, out: Path) -> list[Path]`` and
writes its tables plus a section in ``kinmatch/data/SOURCES/<name>.md``. ``build_built`` runs last:
it works out tables (Parquet) from the others with kinmatch's own code, see ``kinmatch.data.BuiltTable``.
Users never run this: the built tables are committed and ship inside the wheel; only maintainers
with ``../shared`` rebuild.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "kinmatch" / "data")
    parser.add_argument("--only", nargs="*", help="builder names (the part after build_)")
    args = parser.parse_args(argv)
    if not args.shared.is_dir() and set(args.only or ()) != {"built"}:  # the built tables read no raw source
        print(f"no shared data at {args.shared}; pass --shared", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    names = sorted(m.name[len("build_"):] for m in pkgutil.iter_modules([str(HERE)])
                   if m.name.startswith("build_") and m.name != "build_data")
    # the built tables are worked out from the others: last
    names.sort(key=lambda name: name == "built")
    for name in names:
        if args.only and name not in args.only:
            continue
        module = importlib.import_module(f"build_{name}")
        written = module.build(args.shared, args.out)
        for path in written:
            print(f"{name}: wrote {path.relative_to(REPO)} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
