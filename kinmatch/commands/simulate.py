"""``kinmatch simulate``: synthetic station files with an answer key, for trying kinmatch on
realistic data at any size (no real person appears).

    kinmatch simulate -o sim/ --residents 2000 --missing 100000 --seed 1

Writes ``受助人员.csv`` (UTF-8 with BOM), ``寻人启事.csv`` (GBK/GB18030), and
``answer_key/truth.csv`` + ``answer_key/distortions.csv``; see :mod:`kinmatch.datasets`.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate", help="write synthetic resident and missing-person files with an answer key",
        description="Simulate residents of rescue stations and missing-person reports with known truth "
                    "(names garbled by sound and dialect, estimated ages, reworded marks, place fragments) "
                    "and write them as station files plus an answer key.")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--residents", type=int, default=1_000, help="number of residents (default 1000)")
    parser.add_argument("--missing", type=int, default=10_000, help="number of reports (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinmatch.commands.demo import write_station_files
    from kinmatch.datasets import simulate

    sim = simulate(n_missing=args.missing, n_residents=args.residents, seed=args.seed)
    files = write_station_files(sim, args.output)
    print(repr(sim))
    for role, path in files.items():
        print(f"  {role:<12} {path}")
    return 0
