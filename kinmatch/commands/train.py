"""``kinmatch train --db cases.db [--save MODEL.json]``: learn from reviewers' decisions.

Fits a calibrated logistic model on the comparison levels of the pairs reviewers decided
(同一人 / 非同一人), prints its cross-validated quality beside the unsupervised model's on the same
pairs, and with ``--save`` writes it as a readable weight table (the Fellegi–Sunter JSON format)
that the next ``kinmatch link ... --model MODEL.json`` scores with.
"""

from __future__ import annotations

import argparse
import sys

METRICS = ("precision", "recall", "f1", "roc_auc", "average_precision", "brier")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="fit a model on reviewed pairs and compare it with the unsupervised one",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("--db", required=True, help="case store (file path or postgresql+psycopg:// URL)")
    parser.add_argument("--save", metavar="MODEL.json",
                        help="write the fitted model here (readable JSON; use it with kinmatch link --model)")
    parser.add_argument("--cv", type=int, default=5, help="cross-validation folds (default 5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinmatch.review.store import Store
    from kinmatch.review.train import save_model, train_from_store

    result = train_from_store(Store(args.db), cv=args.cv)
    print(f"{result.n_pairs} decided pairs ({result.supervised['n_matches']} 同一人)"
          + (f"; {result.n_skipped} skipped (no comparison levels stored)" if result.n_skipped else ""))
    print(f"{'metric':<18}{'supervised (CV)':>16}{'unsupervised':>14}")
    for metric in METRICS:
        print(f"{metric:<18}{result.supervised[metric]:>16.3f}{result.unsupervised[metric]:>14.3f}")
    if args.save:
        save_model(result.model, args.save, metrics={"cv": {m: result.supervised[m] for m in METRICS}})
        print(f"model → {args.save}", file=sys.stderr)
    return 0
