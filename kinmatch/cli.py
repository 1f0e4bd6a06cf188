"""The ``kinmatch`` command line.

Each subcommand lives in its own module under :mod:`kinmatch.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func``. Modules are discovered, so adding
a command never means editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from kinmatch import __version__
from kinmatch.errors import KinmatchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinmatch",
        description="Link unidentified residents of rescue stations to missing-person reports "
        "(救助寻亲), explain the candidates, and write family-search notices.",
    )
    parser.add_argument("--version", action="version", version=f"kinmatch {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    import kinmatch.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"kinmatch.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        result = args.func(args)
    except KinmatchError as error:
        print(f"kinmatch {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; files being written were left untouched", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
