"""``kinmatch review``: the studio's review site and its case store.

    kinmatch review load --db cases.db candidates.csv residents.xlsx missing.csv
    KINMATCH_PASSWORD=... kinmatch review adduser --db cases.db --role admin alice
    kinmatch review serve --db cases.db            # or: kinmatch review --db cases.db
    kinmatch review export --db cases.db -o reviewed.csv --letters letters/

``--db`` is a file path (SQLite) or a URL (``postgresql+psycopg://user@host/db``). The site listens
on 127.0.0.1 unless ``--host`` says otherwise; on any other address its session cookies are
``Secure`` (HTTPS only), so put a TLS reverse proxy in front (``--proxies 1`` then tells the login
throttle to read the client's address from the proxy). Passwords are read from a prompt or an environment
variable, never from the command line (where ``ps`` and shell history would show them).
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
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
    parser.add_argument("--proxies", type=int,
                        help="number of reverse proxies (TLS) in front of the site, so login limits apply to the "
                             "client's address from X-Forwarded-For (default 0)", **(extra or {"default": 0}))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "review", help="review candidate pairs in a web page; manage the case store",
        description="The studio review workflow: load linking runs into a case store, review pairs in the "
                    "browser (keyboard: Y 同一人, N 非同一人, U 不确定, J/K), export reviewed matches.")
    _db(parser, sub=False)
    _serve_options(parser, sub=False)
    actions = parser.add_subparsers(dest="review_command", metavar="ACTION")

    serve = actions.add_parser(
        "serve", help="run the review site on waitress (default action)",
        description="运行审核网页：审核员登录后逐对判定（同一人 / 非同一人 / 不确定）。\n"
                    "Run the review site: reviewers log in and decide pair by pair. The store must "
                    "exist (create it with `kinmatch review load`); the site listens on 127.0.0.1 "
                    "(this machine only) unless --host says otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _db(serve, sub=True)
    _serve_options(serve, sub=True)

    adduser = actions.add_parser(
        "adduser", help="create a user or reset a password (prompted, or from "
                        f"${PASSWORD_ENV})",
        description="新建审核账号或重设密码（创建新的案件库时也可用）。\n"
                    "Create a reviewer or admin account, or reset its password and role. The password "
                    f"is prompted for, or read from ${PASSWORD_ENV}; never given on the command line. "
                    "Creates the store if it does not exist yet.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _db(adduser, sub=True)
    adduser.add_argument("username", help="用户名 user name: 1-64 letters, digits, '.', '@', '-' or '_'")
    adduser.add_argument("--role", choices=["reviewer", "admin"], default="reviewer",
                         help="角色 role: reviewer 审核员 (default) or admin 管理员 (manages users, sees the log)")
    adduser.add_argument("--password-env", default=PASSWORD_ENV, metavar="VAR",
                         help=f"environment variable holding the password (default {PASSWORD_ENV})")

    load = actions.add_parser(
        "load", help="load a linking run's candidates and their records",
        description="把一次比对结果（候选对）及双方记录导入案件库，进入审核队列；库不存在时新建。\n"
                    "Load a linking run (the candidates CSV `kinmatch link` wrote, and the resident and "
                    "missing-person files it linked) into the case store, creating the store if needed. "
                    "Pairs already decided keep their decisions; excluded pairs never return to the queue.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _db(load, sub=True)
    load.add_argument("candidates", help="the CSV `kinmatch link` wrote")
    load.add_argument("residents", help="the resident file the run linked")
    load.add_argument("missing", help="the missing-person report file the run linked")
    load.add_argument("--run-id", help="name of this run (default: time stamp)")
    load.add_argument("--model-version", help="model version or file the run used, for the audit trail")

    export = actions.add_parser(
        "export", help="write reviewed pairs to CSV (and match-lead letters)",
        description="导出审核结果（CSV），并可为每对“同一人”生成比对线索函，供公安DNA核验。\n"
                    "Export reviewed pairs to CSV; with --letters, also write one match-lead letter "
                    "(比对线索函) per pair confirmed 同一人, for police DNA verification.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _db(export, sub=True)
    export.add_argument("-o", "--output", required=True, help="CSV to write")
    export.add_argument("--letters", metavar="DIR",
                        help="also write a match-lead letter (比对线索函, Markdown) per confirmed pair into this "
                             "folder")
    export.add_argument("--police-unit", default="", help="addressee of the letters (e.g. 某市公安局刑侦支队)")
    export.add_argument("--which", choices=["same", "not_same", "unsure", "all"], default="same",
                        help="pairs whose current decision is this (default same: 同一人)")
    parser.set_defaults(func=run)


def _store(args, create: bool = False):
    from kinmatch.review.store import Store

    if not getattr(args, "db", None):
        raise InputError("no case store given; pass --db PATH (SQLite file) or --db postgresql+psycopg://...")
    # Only load and adduser may create a store: a typo in --db elsewhere must not leave an
    # empty store behind and report "0 reviewed pairs" as if that were the answer.
    return Store(args.db, create=create)


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
        store = _store(args, create=action in ("load", "adduser"))
        if action == "serve":
            from kinmatch.review.web import serve
            from kinmatch.review.web.app import is_local_host

            print(f"审核页面：http://{args.host}:{args.port}/  (Ctrl+C 停止)", file=sys.stderr)
            if not is_local_host(args.host):
                print("注意：监听本机以外的地址时，会话 Cookie 只经 HTTPS 发送。请在前面架设 TLS 反向代理"
                      "（nginx、Caddy 等），用 https:// 访问；不要以明文 HTTP 跨网络提供本网站。",
                      file=sys.stderr)
            serve(store, host=args.host, port=args.port, photo_dir=args.photo_dir, proxies=args.proxies)
        elif action == "adduser":
            store.add_user(args.username, _password(args), args.role)
            print(f"user {args.username} ({args.role}) saved in {store}", file=sys.stderr)
        elif action == "load":
            _load(store, args)
        elif action == "export":
            from kinmatch._io import write_csv
            from kinmatch.review.export import export_decisions

            frame = export_decisions(store, which=None if args.which == "all" else args.which)
            write_csv(frame, args.output)
            print(f"{len(frame)} reviewed pair(s) → {args.output}", file=sys.stderr)
            if args.letters:
                written = write_letters(store, args.letters, police_unit=args.police_unit)
                print(f"{len(written)} match-lead letter(s) (比对线索函) → {args.letters}", file=sys.stderr)
    except StoreError as error:
        raise InputError(str(error)) from error
    return 0


def letter_file_name(resident_id: str, missing_id: str, ext: str = "md") -> str:
    """``R1_M1.md``: ids with path separators, spaces or only dots are made safe for a file name.

        >>> letter_file_name("R/1", "M1")
        'R_1_M1.md'
    """
    def safe(part: str) -> str:
        return re.sub(r"[^\w.-]", "_", str(part)).replace("..", "__") or "_"

    return f"{safe(resident_id)}_{safe(missing_id)}.{ext}"


def write_letters(store, folder: str | Path, **letter_options) -> list[Path]:
    """Write the match-lead letter of every pair confirmed 同一人 into ``folder``, one Markdown
    file per pair (``RESIDENT_MISSING.md``), each atomically. Returns the paths written."""
    from kinmatch._io import atomic_write
    from kinmatch.review.export import render_leads

    letters = render_leads(store, fmt="md", **letter_options)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (resident_id, missing_id), text in letters.items():
        path = folder / letter_file_name(resident_id, missing_id)
        with atomic_write(path) as handle:
            handle.write(text)
        written.append(path)
    return written


CANDIDATE_COLUMNS = ("resident_id", "missing_id", "match_probability")


def read_candidates(path: str | Path):
    """The candidates CSV `kinmatch link` wrote, in whatever encoding an office saved it
    (UTF-8, GBK...: detected as intake does), ids as text."""
    import io

    import pandas as pd

    from kinmatch._io import excel_unescape
    from kinmatch._tableread import decode_bytes

    path = Path(path)
    if not path.is_file():
        raise InputError(f"candidate file {str(path)!r} does not exist; write it with `kinmatch link`")
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(f"{path}: this is a workbook, not the CSV `kinmatch link` writes; give that CSV "
                         f"(or save the sheet as 'CSV UTF-8')")
    text, _encoding, _bad, _body = decode_bytes(data)
    text = text.replace("\x00", "")  # a database refuses NULs; no CSV kinmatch writes has one
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={"resident_id": str, "missing_id": str})
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the candidate file is empty; write it with `kinmatch link`") from None
    except pd.errors.ParserError as error:
        raise InputError(f"{path}: not a readable CSV ({str(error).strip().splitlines()[0]}); give the "
                         f"candidates CSV `kinmatch link` writes") from None
    # kinmatch's CSVs escape cells a spreadsheet would run as formulas ('=…): undo that here.
    frame.columns = [excel_unescape(c) for c in frame.columns]
    for column in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
        frame[column] = frame[column].map(excel_unescape, na_action="ignore")
    absent = [c for c in CANDIDATE_COLUMNS if c not in frame.columns]
    if absent:
        shown = ", ".join(map(str, frame.columns[:12]))
        raise InputError(f"{path}: not a candidate table: no column(s) {', '.join(absent)} (found: {shown}). "
                         f"Give the CSV `kinmatch link` writes (resident_id, missing_id, rank, "
                         f"match_probability, ...), then the resident file, then the missing-person file.")
    return frame


def _load(store, args) -> None:
    from kinmatch.commands.link import read_input

    candidates = read_candidates(args.candidates)
    residents = read_input(args.residents, "resident")
    missing = read_input(args.missing, "missing")
    counts = store.load_candidates(candidates, residents, missing, run_id=args.run_id,
                                   model_version=args.model_version)
    print(f"run {counts['run_id']}: {counts['candidates']} candidate pair(s), {counts['new_pairs']} new; "
          f"{store.counts()['queued']} pair(s) waiting for review", file=sys.stderr)
