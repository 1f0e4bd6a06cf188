"""The ``kinmatch`` command line.

Each subcommand lives in its own module under :mod:`kinmatch.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func``. Modules are discovered, so adding
a command never means editing this file.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import os
import pkgutil
import sys
import threading

from kinmatch import __version__
from kinmatch.errors import KinmatchError


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The program's parser with every command; with ``command`` (a module of
    :mod:`kinmatch.commands`), with that command only: a run imports no other command's module."""
    parser = argparse.ArgumentParser(
        prog="kinmatch",
        description="Link unidentified residents of rescue stations to missing-person reports "
        "(救助寻亲), explain the candidates, and write family-search notices.",
    )
    parser.add_argument("--version", action="version", version=f"kinmatch {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for name in _command_modules():
        if command is None or name == command:
            importlib.import_module(f"kinmatch.commands.{name}").register(subparsers)
    return parser


def _command_modules() -> list[str]:
    """The modules of :mod:`kinmatch.commands` that are commands (not ``_private``), by name."""
    import kinmatch.commands as commands

    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_"))


def _command_named(argv: list[str]) -> str | None:
    """The command the arguments start with, when it is one (``link`` in ``link a.csv b.csv``);
    None otherwise (no command, an option first, a misspelt name: the full parser answers)."""
    if not argv or not argv[0].isidentifier():
        return None
    return argv[0] if argv[0] in _command_modules() else None


def _database_errors() -> tuple[type[BaseException], ...]:
    """SQLAlchemy's operational errors (unreachable server, locked or unopenable file), if loaded:
    commands that never touch a database do not pay for importing it."""
    module = sys.modules.get("sqlalchemy.exc")
    return (module.OperationalError,) if module else ()


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (None: the process's own arguments, as the ``kinmatch`` program).

    As the program, the process ends when the command returns: a command may then leave what it
    made to the interpreter's exit (``args.exits_after``), and everything left is frozen out of the
    collector first, so the last collection at exit does not scan a run's millions of objects
    (about 0.3 s after linking 2,000 × 20,000) only to find them alive; then the process ends
    without tearing the interpreter down (:func:`_end_program`)."""
    parser = build_parser(_command_named(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    args.exits_after = argv is None
    try:
        code = _run(args)
    finally:
        if args.exits_after:
            gc.freeze()
    if args.exits_after:
        _end_program(code)
    return code


def _end_program(code: int) -> None:
    """End the program with ``code`` once the command has returned: the exit handlers run and the
    standard streams are flushed as at a normal exit, but the interpreter is not torn down (freeing
    a run's frames, tables and millions of small objects one by one took 0.15–0.2 s after linking
    2,000 × 20,000; the system takes the memory back at once). Returns without ending anything when
    another thread is still running, whose end a normal exit would wait for."""
    if threading.active_count() > 1:
        return
    atexit._run_exitfuncs()  # what a normal exit runs first (logging, multiprocessing, coverage)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)


INTERRUPTED = "已中断（Ctrl-C）。没有留下写了一半的文件，索引（若有）仍是中断前的版本；需要时重新运行该命令。"


def _run(args: argparse.Namespace) -> int:
    from kinmatch._parallel import interrupted, interrupts_noted

    try:
        with interrupts_noted():
            result = args.func(args)
    except KinmatchError as error:
        print(f"kinmatch {args.command}: {error}", file=sys.stderr)
        return 2
    except IsADirectoryError as error:
        print(f"kinmatch {args.command}: {error.filename} is a folder; give a file path", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"kinmatch {args.command}: {error.filename or error}: no such file or folder", file=sys.stderr)
        return 2
    except (NotADirectoryError, FileExistsError) as error:
        print(f"kinmatch {args.command}: {error.filename}: a file stands where a folder is needed "
              "(choose another output folder)", file=sys.stderr)
        return 2
    except PermissionError as error:
        print(f"kinmatch {args.command}: {error.filename}: permission denied", file=sys.stderr)
        return 2
    except UnicodeDecodeError as error:
        print(f"kinmatch {args.command}: a file could not be decoded as {error.encoding} ({error.reason}); "
              "re-save it as UTF-8 CSV or .xlsx", file=sys.stderr)
        return 2
    except _database_errors() as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(f"kinmatch {args.command}: the case store could not be used: {reason}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name not in ("psycopg", "psycopg2"):
            raise
        from kinmatch.review.drivers import missing_driver_message

        print(f"kinmatch {args.command}: {missing_driver_message(error.name)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kinmatch {args.command}: {INTERRUPTED}", file=sys.stderr)
        return 130
    except Exception:
        if not interrupted():
            raise
        # a library turned the Ctrl-C into an error of its own (pandas reading a file)
        print(f"kinmatch {args.command}: {INTERRUPTED}", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
