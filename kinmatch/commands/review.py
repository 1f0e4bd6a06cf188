"""``kinmatch review``: the studio's review site and its case store.

    kinmatch review load --db cases.db candidates.csv residents.xlsx missing.csv
    KINMATCH_PASSWORD=... kinmatch review adduser --db cases.db --role admin alice
    kinmatch review serve --db cases.db            # or: kinmatch review --db cases.db
    kinmatch review export --db cases.db -o reviewed.csv

``--db`` is a file path (SQLite) or a URL (``postgresql+psycopg://user@host/db``). The site listens
on 127.0.0.1 unless ``--host`` says otherwise. Passwords are read from a prompt or an environment
variable, never from the command line (where ``ps`` and shell history would show them).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from kinmatch.errors import InputError

PASSWORD_ENV = "KINMATCH_PASSWORD"


def _db(parser: argparse.ArgumentParser, sub: bool) -> None:
    parser.add_argument("--db", help="case store: a file path (SQLite) or a postgresql+psycopg:// URL",
                        **({"default": argparse.SUPPRESS} if sub else {}))


def _serve_options(parser: argparse.ArgumentParser, sub: bool) -> None:
    extra = {"default": argparse.SUPPRESS} if sub else {}
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)",
                        **(extra or {"default": "127.0.0.1"}))
    parser.add_argument("--port", type=int, help="port (default 8765)", **(extra or {"default": 8765}))
    parser.add_argument("--photo-dir", help="serve local photo paths only from inside this folder (default: .)",
                        **(extra or {"default": None}))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "review", help="review candidate pairs in a web page; manage the case store",
        description="The studio review workflow: load linking runs into a case store, review pairs in the "
                    "browser (keyboard: Y 同一人, N 非同一人, U 不确定, J/K), export reviewed matches.")
    _db(parser, sub=False)
    _serve_options(parser, sub=False)
    actions = parser.add_subparsers(dest="review_command", metavar="ACTION")

    serve = actions.add_parser("serve", help="run the review site (default action)")
    _db(serve, sub=True)
    _serve_options(serve, sub=True)

    adduser = actions.add_parser("adduser", help="create a user or reset a password (prompted, or from "
                                                 f"${PASSWORD_ENV})")
    _db(adduser, sub=True)
    adduser.add_argument("username")
    adduser.add_argument("--role", choices=["reviewer", "admin"], default="reviewer")
    adduser.add_argument("--password-env", default=PASSWORD_ENV, metavar="VAR",
                         help=f"environment variable holding the password (default {PASSWORD_ENV})")

    load = actions.add_parser("load", help="load a linking run's candidates and their records")
    _db(load, sub=True)
    load.add_argument("candidates", help="the CSV `kinmatch link` wrote")
    load.add_argument("residents", help="the resident file the run linked")
    load.add_argument("missing", help="the missing-person report file the run linked")
    load.add_argument("--run-id", help="name of this run (default: time stamp)")
    load.add_argument("--model-version", help="model version or file the run used, for the audit trail")

    export = actions.add_parser("export", help="write reviewed pairs to CSV")
    _db(export, sub=True)
    export.add_argument("-o", "--output", required=True, help="CSV to write")
    export.add_argument("--which", choices=["same", "not_same", "unsure", "all"], default="same",
                        help="pairs whose current decision is this (default same: 同一人)")
    parser.set_defaults(func=run)


def _store(args):
    from kinmatch.review.store import Store

    if not getattr(args, "db", None):
        raise InputError("no case store given; pass --db PATH (SQLite file) or --db postgresql+psycopg://...")
    return Store(args.db)


def _password(args) -> str:
    value = os.environ.get(args.password_env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise InputError(f"no password: set the environment variable {args.password_env} or run "
                         f"the command in a terminal to be prompted")
    first = getpass.getpass(f"{args.username} 的密码: ")
    if first != getpass.getpass("再输入一次: "):
        raise InputError("the two passwords differ; nothing was changed")
    return first


def run(args: argparse.Namespace) -> int:
    from kinmatch.review.store import StoreError

    action = args.review_command or "serve"
    try:
        store = _store(args)
        if action == "serve":
            from kinmatch.review.web import serve

            print(f"审核页面：http://{args.host}:{args.port}/  (Ctrl+C 停止)", file=sys.stderr)
            serve(store, host=args.host, port=args.port, photo_dir=args.photo_dir)
        elif action == "adduser":
            store.add_user(args.username, _password(args), args.role)
            print(f"user {args.username} ({args.role}) saved in {store}", file=sys.stderr)
        elif action == "load":
            _load(store, args)
        elif action == "export":
            from kinmatch._io import write_csv_atomic
            from kinmatch.review.export import export_decisions

            frame = export_decisions(store, which=None if args.which == "all" else args.which)
            write_csv_atomic(frame, args.output)
            print(f"{len(frame)} reviewed pair(s) → {args.output}", file=sys.stderr)
    except StoreError as error:
        raise InputError(str(error)) from error
    return 0


def _load(store, args) -> None:
    import pandas as pd

    from kinmatch.commands.link import _read

    path = Path(args.candidates)
    if not path.is_file():
        raise InputError(f"candidate file {args.candidates!r} does not exist; write it with `kinmatch link`")
    candidates = pd.read_csv(path, encoding="utf-8-sig", dtype={"resident_id": str, "missing_id": str})
    residents = _read(args.residents, "resident")
    missing = _read(args.missing, "missing")
    counts = store.load_candidates(candidates, residents, missing, run_id=args.run_id,
                                   model_version=args.model_version)
    print(f"run {counts['run_id']}: {counts['candidates']} candidate pair(s), {counts['new_pairs']} new; "
          f"{store.counts()['queued']} pair(s) waiting for review", file=sys.stderr)
