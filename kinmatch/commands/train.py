"""``kinmatch train --db cases.db [--calibrate] [--save MODEL.json [--make-default]]``: learn from decisions.

Fits a logistic model on the comparison levels of the pairs reviewers decided (同一人 / 非同一人),
with the weights of ordered comparisons kept in order and pulled towards the current model's,
prints its cross-validated quality beside the current model's on the same pairs, and with
``--save`` writes it as a readable weight table (the Fellegi–Sunter JSON format) that
``kinmatch link ... --model MODEL.json`` scores with. ``--make-default`` also makes it the model
``kinmatch link --db`` uses, only when it beats the current model on held-out decisions by more
than the noise (see kinmatch.review.train).

With ``--calibrate`` it keeps the model in use (``--model``, else the store's default) and its
ranking, and fits only the map from its match weight to probability on the decided pairs it scored
(sigmoid or ``--calibration isotonic``; at least 200 decided pairs, 20 of each decision). It prints
the calibration table of the decided pairs before and after, the after measured out of fold (folds
of residents), and with ``--save`` writes the model with the map; ``kinmatch link --model`` then
shows the recalibrated probabilities. ``--make-default`` makes it the default only when the
out-of-fold Brier score improves by more than the noise.
"""

from __future__ import annotations

import argparse
import sys

METRICS = ("precision", "recall", "f1", "roc_auc", "average_precision", "brier")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="fit a model on reviewed pairs and compare it with the current one",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("--db", required=True,
                        help="an existing case store (file path or postgresql+psycopg:// URL; "
                             "`kinmatch review load` creates one)")
    parser.add_argument("--save", metavar="MODEL.json",
                        help="write the fitted model here (readable JSON; use it with kinmatch link --model)")
    parser.add_argument("--make-default", action="store_true",
                        help="with --save: make the saved model the store's default (what `kinmatch link --db` uses), "
                             "only if it beats the current model on held-out decisions by more than the noise")
    parser.add_argument("--cv", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--calibrate", action="store_true",
                        help="keep the model in use and its ranking; fit only its probabilities to the decisions")
    parser.add_argument("--model", metavar="MODEL.json",
                        help="with --calibrate: the model whose probabilities to calibrate (the JSON the linking "
                             "run used, e.g. from kinmatch link --save-model); default: the store's default model")
    parser.add_argument("--calibration", choices=("sigmoid", "isotonic"), default="sigmoid",
                        help="with --calibrate: the map (default sigmoid; isotonic needs many more decisions)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinmatch.errors import InputError
    from kinmatch.review.store import Store
    from kinmatch.review.train import NOISE_SDS, save_model, train_from_store

    if args.make_default and not args.save:
        raise InputError("--make-default needs --save MODEL.json: the default model is a file the store points at")
    from kinmatch.review.drivers import check_driver

    check_driver(args.db)
    store = Store(args.db, create=False)  # a typo in --db must not create an empty store
    if args.calibrate:
        return run_calibrate(args, store)
    if args.model or args.calibration != "sigmoid":
        raise InputError("--model and --calibration go with --calibrate (training a new model starts from the "
                         "decisions, not from a model file)")
    result = train_from_store(store, cv=args.cv)
    print(f"{result.n_pairs} decided pairs ({result.supervised['n_matches']} 同一人)"
          + (f"; {result.n_skipped} skipped (no comparison levels stored)" if result.n_skipped else ""))
    print(f"{'metric':<18}{'supervised (CV)':>16}{'unsupervised':>14}")
    for metric in METRICS:
        print(f"{metric:<18}{result.supervised[metric]:>16.3f}{result.unsupervised[metric]:>14.3f}")
    print(verdict(result.supervised, result.unsupervised))
    gate = result.gate
    print(f"gate for --make-default, against {gate['current_model']}: {gate['reason']}")
    if args.save:
        metrics = {m: float(result.supervised[m]) for m in METRICS}
        save_model(result.model, args.save, metrics={"cv": metrics, "gate": _jsonable(gate)})
        print(f"model → {args.save}")
        print(f"use it: kinmatch link --model {args.save} RESIDENTS MISSING -o candidates.csv")
        if args.make_default:
            if not gate["beats"]:
                print(f"未设为默认模型：{gate['reason']}。新模型只有在留出的决定上比现用模型好出噪声的 "
                      f"{NOISE_SDS:g} 倍以上时才成为默认模型；仍可用 --model {args.save} 明确指定它。", file=sys.stderr)
                return 1
            store.set_default_model(args.save, metrics, n_pairs=result.n_pairs)
            print(f"已设为默认模型：kinmatch link --db {args.db} 今后用 {args.save}")
        else:
            print("(the store's default model is unchanged; add --make-default to make this one the default "
                  "when it is measurably better)")
    return 0


def run_calibrate(args: argparse.Namespace, store) -> int:
    """``--calibrate``: the model in use, recalibrated on the store's decisions (see the module)."""
    import os

    from kinmatch.errors import InputError
    from kinmatch.match.model import FellegiSunter
    from kinmatch.review.train import NOISE_SDS, calibrate_from_store, top_heavy_warning

    path = args.model
    if path is None:
        recorded = store.default_model()
        if recorded is None:
            raise InputError(f"{args.db} 还没有默认模型，不知道要校准哪个模型的概率：请用 --model 指定"
                             f"链接时用的模型文件（kinmatch link ... --save-model MODEL.json 写出的 JSON）")
        path = recorded["path"]
    if not os.path.isfile(path):
        raise InputError(f"模型文件 {path!r} 不存在：请用 --model 指定链接时用的模型文件"
                         f"（kinmatch link --save-model 写出的 JSON）")
    result = calibrate_from_store(store, FellegiSunter.from_json(path), method=args.calibration, cv=args.cv)
    skipped = []
    if result.n_no_weight:
        skipped.append(f"{result.n_no_weight} without a stored match weight")
    if result.n_other_model:
        skipped.append(f"{result.n_other_model} scored by another model")
    print(f"{result.n_pairs} decided pairs scored by {path} ({result.n_same} 同一人)"
          + (f"; left out: {', '.join(skipped)}" if skipped else ""))
    print(f"calibration of the decided pairs ({args.calibration}; 'after' out of fold, {result.folds} folds of "
          f"residents): pairs, mean predicted → share 同一人")
    print(f"{'band':<11}{'before':>26}{'after':>26}")
    for b, a in zip(result.before.itertuples(), result.after.itertuples()):
        print(f"{b.band:<11}{_cell(b):>26}{_cell(a):>26}")
    print(f"Brier {result.scores_before['brier']:.4f} → {result.scores_after['brier']:.4f}, log loss "
          f"{result.scores_before['log_loss']:.3f} → {result.scores_after['log_loss']:.3f} (ranking unchanged)")
    print(f"gate for --make-default: {result.gate['reason']}")
    warning = top_heavy_warning(result.rank_coverage)
    if warning:
        print(warning, file=sys.stderr)
    if args.save:
        result.model.to_json(args.save)
        print(f"model with the calibration → {args.save}")
        print(f"use it: kinmatch link --model {args.save} RESIDENTS MISSING -o candidates.csv")
        if args.make_default:
            if not result.gate["beats"]:
                print(f"未设为默认模型：{result.gate['reason']}。校准只有在留出的决定上比现用概率好出噪声的 "
                      f"{NOISE_SDS:g} 倍以上时才成为默认；仍可用 --model {args.save} 明确指定它。", file=sys.stderr)
                return 1
            metrics = {"brier": result.gate["after"], "brier_before": result.gate["before"]}
            store.set_default_model(args.save, metrics, n_pairs=result.n_pairs)
            print(f"已设为默认模型：kinmatch link --db {args.db} 今后用 {args.save}")
    return 0


def _cell(row) -> str:
    if not row.pairs:
        return "0"
    return f"{row.pairs}: {row.mean_predicted:.3f} → {row.observed:.3f}"


def _jsonable(gate: dict) -> dict:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in gate.items()}


# Differences in AUC below this are noise on a few hundred reviewed pairs.
_AUC_TIE = 0.01


def verdict(supervised: dict, unsupervised: dict) -> str:
    """One line saying which model is better on the cross-validated metrics: ranking (ROC AUC)
    first, since reviewers work down a ranked queue; within a tie, calibration (Brier, lower is
    better).

        >>> verdict({"roc_auc": 0.93, "brier": 0.08}, {"roc_auc": 0.85, "brier": 0.12})
        'verdict: the supervised model (trained on reviews) is better: ROC AUC 0.930 vs 0.850, Brier 0.080 vs 0.120'
    """
    auc_s, auc_u = supervised["roc_auc"], unsupervised["roc_auc"]
    brier_s, brier_u = supervised["brier"], unsupervised["brier"]
    figures = f"ROC AUC {auc_s:.3f} vs {auc_u:.3f}, Brier {brier_s:.3f} vs {brier_u:.3f}"
    if auc_s - auc_u > _AUC_TIE or (abs(auc_s - auc_u) <= _AUC_TIE and brier_s < brier_u):
        return f"verdict: the supervised model (trained on reviews) is better: {figures}"
    if auc_u - auc_s > _AUC_TIE or brier_u < brier_s:
        return (f"verdict: the unsupervised model is better: {figures}; keep it (no --model) and "
                f"review more pairs before training again")
    return f"verdict: no clear difference: {figures}"
