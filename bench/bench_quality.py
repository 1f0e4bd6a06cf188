"""Where true pairs are lost, and recall per distortion family, on simulated data with known truth.

    python bench/bench_quality.py                              # 2,000 residents x 20,000 reports, seed 7
    python bench/bench_quality.py --seeds 7 3 11               # several seeds, one table each
    python bench/bench_quality.py --seeds 7 3 11 --baseline    # without clothing, sex a wall
    python bench/bench_quality.py --seeds 7 3 --no-clothing    # one of the two at a time (--sex-wall)
    python bench/bench_quality.py --residents 10000 --missing 1000000 --cache /tmp/kq   # scale (~8-10 min, 6 GB)
    python bench/bench_quality.py --seeds 7 3 --condition-passes --fit-prescore   # the pre-score's weights, refitted
    python bench/bench_quality.py --fitted-prescore --condition-passes --other-sex-cap 20   # candidate options
    python bench/bench_quality.py --no-other-sex-passes        # without the default other-sex passes
    python bench/bench_quality.py --prescore-share 0.5       # the caps' weights halfway from hand to fitted
    python bench/bench_quality.py --fitted-prescore --condition-passes --fit-on-default   # model fitted apart
    python bench/bench_quality.py --model-options '{"posterior": "person", "dependence": "tree"}'   # model options

``--cache DIR`` keeps the simulated data normalized (a pickle per size and seed) and reads it on
later runs: at a million reports normalizing takes longer than linking.

For every resident with a true report, the best fate of its true pairs, in this order:

* ``top10``: a true report ranks 1-10;
* ``below10``: a true pair was compared (it is in ``run_link(...).vectors``) but ranks below 10;
* ``capped``: no true pair was compared, but the passes propose one when no cap applies (the same
  passes with every per-pass and union cap lifted, asked only about the true reports:
  ``candidates.report_side_of``; the fallback passes then run for the residents with little
  evidence only; skipped with ``--no-uncapped``, then these count as ``never``);
* ``never``: no pass proposes a true pair even uncapped (its keys never meet, or a hard
  constraint such as a recorded-sex mismatch excludes it; ``sex_differs`` counts the residents
  whose recorded sex differs from every true report's).

Printed per distortion family (``Simulation.distortions``; a resident counts in each of its
families, plus ``name_survives_any_form`` and ``no_usable_name``), then recall@1/10/50 and false
leads (residents without a report with a candidate above 0.5; how many of them have a usable
name), the EM's iterations and share of residents with a report, and the calibration of every ranked
pair (``metrics.calibration_table``; the worst band is judged among bands of 100 pairs or more; with
``--dedupe`` a cluster row counts as true there only when the report standing for it is).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_linkage import NAME_LOST, name_survives  # noqa: E402

from kinmatch.datasets import simulate  # noqa: E402
from kinmatch.match import candidates as candidate_index  # noqa: E402
from kinmatch.match.candidates import CandidateSettings, packed_candidate_pairs, report_side  # noqa: E402
from kinmatch.match.evaluate import evaluate_by_family, false_leads, first_true_rank  # noqa: E402
from kinmatch.match.model.metrics import calibration_table  # noqa: E402
from kinmatch.match.pipeline import prepare_records, run_link  # noqa: E402
from kinmatch.match.settings import LinkSettings, default_comparisons  # noqa: E402

FATES = ("top10", "below10", "capped", "never")
RATES = {"age_in_birth_date": 0.2}
"""Simulator rates beyond the defaults: ages written in the birth-date cell (0 by default until
intake keeps such cells)."""
UNCAPPED = 10**7


def uncapped_settings(settings: CandidateSettings) -> CandidateSettings:
    """The same passes with every cap lifted (what the passes propose before any cap); the fallback
    passes for the residents with little evidence only (with no cap, every other resident has
    plenty of pairs)."""
    passes = tuple(p.__class__(**(p.to_dict() | {"cap": UNCAPPED})) for p in settings.passes)
    return CandidateSettings(**(settings.to_dict() | {"passes": passes, "max_per_resident": UNCAPPED,
                                                       "nameless_max_per_resident": UNCAPPED, "few_candidates": 0}))


def uncapped_true_pairs(residents: pd.DataFrame, missing: pd.DataFrame, truth: pd.DataFrame,
                        settings: CandidateSettings) -> pd.DataFrame:
    """The true pairs the passes propose with every cap lifted (resident_id, missing_id, passes):
    the residents with a true report queried against the reports' side restricted to the true
    reports (``report_side_of``), so at a million reports this costs a few pairs per resident."""
    truth = truth.astype(str)
    uncapped = uncapped_settings(settings)
    reports = candidate_index.report_side_of(report_side(missing, uncapped), set(truth["missing_id"]))
    with_truth = residents[residents["resident_id"].astype(str).isin(set(truth["resident_id"]))]
    pairs = packed_candidate_pairs(with_truth.reset_index(drop=True), missing, uncapped, progress=False,
                                   reports=reports).unpack().pairs
    return pairs[pair_keys(pairs).isin(pair_keys(truth))][["resident_id", "missing_id", "passes"]]


def families(sim) -> pd.DataFrame:
    """resident_id, family: the simulator's families plus two groupings by what is left of the name."""
    lost = sim.distortions[sim.distortions["family"].isin(NAME_LOST)][["resident_id"]].drop_duplicates()
    return pd.concat([sim.distortions[["resident_id", "family"]], name_survives(sim.distortions),
                      lost.assign(family="no_usable_name")], ignore_index=True)


def pair_keys(frame: pd.DataFrame) -> pd.Index:
    return pd.Index(frame["resident_id"].astype(str) + "\x1f" + frame["missing_id"].astype(str))


def fates(run, data: dict, uncapped: pd.DataFrame | None) -> pd.DataFrame:
    """One row per resident with a true report: its fate (:data:`FATES`) and whether its recorded
    sex differs from every true report's."""
    truth = data["truth"].astype(str)
    true_keys = pair_keys(truth)
    ranks = first_true_rank(run.table, truth)
    vectors = run.vectors.index.to_frame(index=False)
    vectors.columns = ["resident_id", "missing_id"]
    compared = set(truth["resident_id"][true_keys.isin(pair_keys(vectors.astype(str)))])
    proposed = (set(truth["resident_id"][true_keys.isin(pair_keys(uncapped.astype(str)))])
                if uncapped is not None else set())
    out = pd.DataFrame({"resident_id": ranks.index})
    out["fate"] = np.select([ranks.to_numpy() <= 10, out["resident_id"].isin(compared),
                             out["resident_id"].isin(proposed)], list(FATES[:3]), FATES[3])
    sex_r = run.residents.set_index(run.residents["resident_id"].astype(str))["sex_code"]
    sex_m = run.missing.set_index(run.missing["missing_id"].astype(str))["sex_code"]
    differs = (truth["resident_id"].map(sex_r).to_numpy() != truth["missing_id"].map(sex_m).to_numpy())
    known = truth["resident_id"].map(sex_r).notna().to_numpy() & truth["missing_id"].map(sex_m).notna().to_numpy()
    all_differ = pd.Series(differs & known, index=truth["resident_id"]).groupby(level=0).all()
    out["sex_differs"] = out["resident_id"].map(all_differ).fillna(False).astype(bool)
    return out


def fate_table(fate: pd.DataFrame, family: pd.DataFrame) -> pd.DataFrame:
    groups = pd.concat([fate.assign(family="overall"), fate.merge(family.drop_duplicates(), on="resident_id")])
    table = groups.pivot_table(index="family", columns="fate", values="resident_id", aggfunc="count", fill_value=0)
    table = table.reindex(columns=list(FATES), fill_value=0)
    table.insert(0, "residents", table.sum(axis=1))
    table["sex_differs"] = groups.groupby("family")["sex_differs"].sum()
    order = ["overall"] + sorted(i for i in table.index if i != "overall")
    return table.loc[order]


def baseline_settings(clothing: bool = False, sex_wall: bool = True) -> LinkSettings:
    """The settings before issue 12's evidence (for before/after tables on the same simulated data):
    by default no clothing comparisons and a sex mismatch excluded by every pass; ``clothing`` keeps
    the clothing comparisons, ``sex_wall=False`` keeps sex as evidence (one change at a time)."""
    candidates = CandidateSettings()
    if sex_wall:
        candidates = candidates.with_pass("name_sound", any_sex=False)
    comparisons = [c for c in default_comparisons() if clothing or not c.name.startswith("clothing")]
    return LinkSettings(comparisons=comparisons, candidates=candidates)


def blended_prescore_weights(share: float) -> dict[str, float]:
    """The pre-score's weights ``share`` of the way from ``HAND_PRESCORE_WEIGHTS`` (0) to
    ``FITTED_PRESCORE_WEIGHTS`` (1), term by term."""
    hand, fitted = candidate_index.HAND_PRESCORE_WEIGHTS, candidate_index.FITTED_PRESCORE_WEIGHTS
    return {term: round(hand[term] + share * (fitted[term] - hand[term]), 4) for term in candidate_index.PRESCORE_TERMS}


def candidate_experiment(settings: LinkSettings, fitted_prescore: bool, condition_passes: bool,
                         other_sex_cap: int | None, nameless_scale: float = 1.0,
                         prescore_share: float | None = None, hand_prescore: bool = False) -> LinkSettings:
    """``settings`` with the candidate options: the fitted pre-score weights (the default), the hand
    ones (``hand_prescore``), ``prescore_share`` of the way from the hand to the fitted ones
    (:func:`blended_prescore_weights`), the passes by conditions (before the fallback), name_sound's
    other-sex pairs capped apart, the nameless residents' caps (every pass's ``nameless_factor`` above 1 and the union's
    ``nameless_max_per_resident``) times ``nameless_scale``."""
    from dataclasses import replace

    from kinmatch.match.passes import CONDITION_PASSES

    candidates = settings.candidate_settings()
    if fitted_prescore:
        candidates = replace(candidates, prescore_weights=dict(candidate_index.FITTED_PRESCORE_WEIGHTS))
    if hand_prescore:
        candidates = replace(candidates, prescore_weights=dict(candidate_index.HAND_PRESCORE_WEIGHTS))
    if prescore_share is not None:
        candidates = replace(candidates, prescore_weights=blended_prescore_weights(prescore_share))
    if condition_passes:
        regular = [p for p in candidates.passes if not p.fallback]
        fallback = [p for p in candidates.passes if p.fallback]
        candidates = replace(candidates, passes=(*regular, *CONDITION_PASSES, *fallback))
    if other_sex_cap is not None:
        candidates = candidates.with_pass("name_sound", other_sex_cap=other_sex_cap)
    if nameless_scale != 1.0:
        passes = tuple(replace(p, nameless_factor=p.nameless_factor * nameless_scale) if p.nameless_factor > 1 else p
                       for p in candidates.passes)
        candidates = replace(candidates, passes=passes,
                             nameless_max_per_resident=round(candidates.nameless_max_per_resident * nameless_scale))
    return replace(settings, candidates=candidates)


def thin_evidence_experiment(settings: LinkSettings, other_sex_passes: bool, named_scale: float,
                             home_conditions: bool = False, clothing_pass: str | None = None,
                             other_sex_pass_cap: int | None = None, fit_all: bool = False,
                             other_sex_min_score: float | None = None, clothing_cap: int | None = None,
                             other_sex_min_weight: float | None = None) -> LinkSettings:
    """``settings`` without the default ``passes.OTHER_SEX_PASSES`` unless ``other_sex_passes`` (then
    put back before the fallback), with ``passes.HOME_CONDITION_PASSES`` (before the fallback), and
    the passes that raise the nameless residents' caps (``nameless_factor`` above 1)
    keeping ``named_scale`` times their cap for residents with a usable name (``named_factor``);
    ``clothing_pass``: ``"none"`` without the default ``dated_clothing`` pass (for residents without a usable
    name), ``"all"`` with ``passes.CLOTHING_PASSES`` too (the same for those with one);
    ``other_sex_pass_cap``: the other-sex passes' cap instead of theirs; ``fit_all``: the model fitted on the
    added passes' pairs too (``CandidatePass.fit``); ``other_sex_min_score``: the other-sex passes' ``min_score``;
    ``clothing_cap``: the clothing passes' cap; ``other_sex_min_weight``: the other-sex passes' ``min_weight``
    (their pairs ranked only from this match weight up; nan: no floor)."""
    from dataclasses import replace

    from kinmatch.match.passes import CLOTHING_PASSES, HOME_CONDITION_PASSES, OTHER_SEX_PASSES

    candidates = settings.candidate_settings()
    candidates = replace(candidates, passes=tuple(p for p in candidates.passes if not p.other_sex))
    clothing = ()
    if clothing_pass == "none":  # the default pass by clothes and month left out
        candidates = replace(candidates, passes=tuple(p for p in candidates.passes if p.name != "dated_clothing"))
    elif clothing_pass == "all":  # for residents with a usable name too
        clothing = CLOTHING_PASSES
    other_sex = OTHER_SEX_PASSES if other_sex_passes else ()
    if other_sex_pass_cap is not None:
        other_sex = tuple(replace(p, cap=other_sex_pass_cap) for p in other_sex)
    if other_sex_min_score is not None:
        other_sex = tuple(replace(p, min_score=other_sex_min_score) for p in other_sex)
    if other_sex_min_weight is not None:
        floor = None if np.isnan(other_sex_min_weight) else other_sex_min_weight
        other_sex = tuple(replace(p, min_weight=floor) for p in other_sex)
    added = (*(HOME_CONDITION_PASSES if home_conditions else ()), *other_sex, *clothing)
    if fit_all:
        added = tuple(replace(p, fit=True) for p in added)
    if added:
        regular = [p for p in candidates.passes if not p.fallback]
        fallback = [p for p in candidates.passes if p.fallback]
        candidates = replace(candidates, passes=(*regular, *added, *fallback))
    if clothing_cap is not None:
        candidates = replace(candidates, passes=tuple(replace(p, cap=clothing_cap) if p.report_keys == "dated_clothing"
                                                      else p for p in candidates.passes))
    if named_scale != 1.0:
        candidates = replace(candidates, passes=tuple(
            replace(p, named_factor=p.named_factor * named_scale) if p.nameless_factor > 1 else p
            for p in candidates.passes))
    return replace(settings, candidates=candidates)


def simulated(n_residents: int, n_missing: int, seed: int, cache: Path | None) -> dict:
    """The simulated records normalized, the truth and the families; from ``cache`` when there."""
    path = cache / f"quality_{n_residents}x{n_missing}_s{seed}.pkl" if cache else None
    if path is not None and path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    sim = simulate(n_missing=n_missing, n_residents=n_residents, seed=seed, rates=RATES)
    data = {"residents": prepare_records(sim.residents, "resident"), "missing": prepare_records(sim.missing, "missing"),
            "truth": sim.truth, "family": families(sim)}
    # deaf-mute as recorded at the station (the simulator logs no family for it)
    residents = data["residents"]
    deaf = residents["resident_id"][residents["conditions"].map(lambda c: isinstance(c, tuple) and "聋哑" in c)]
    data["family"] = pd.concat([data["family"], pd.DataFrame({"resident_id": deaf.astype(str), "family": "deaf_mute"})],
                               ignore_index=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            pickle.dump(data, f, protocol=5)
    return data


def one_seed(n_residents: int, n_missing: int, seed: int, with_uncapped: bool, settings: LinkSettings | None = None,
             cache: Path | None = None, save_table: Path | None = None) -> dict:
    started = time.perf_counter()
    data = simulated(n_residents, n_missing, seed, cache)
    prepared = time.perf_counter()
    cpu = time.process_time()
    run = run_link(data["residents"], data["missing"], top_k=50, progress=False, settings=settings)
    linked, linked_cpu = time.perf_counter() - prepared, time.process_time() - cpu
    uncapped = None
    if with_uncapped:
        uncapped = uncapped_true_pairs(run.residents, run.missing, data["truth"], run.settings.candidate_settings())
    family = data["family"]
    if save_table is not None:
        save_table.mkdir(parents=True, exist_ok=True)
        run.table.to_pickle(save_table / f"table_{n_residents}x{n_missing}_s{seed}.pkl")
    print(f"\n== {n_residents} x {n_missing}, seed {seed}: records ready in {prepared - started:.0f} s, linked in "
          f"{linked:.0f} s ({linked_cpu:.0f} CPU s in this process), {len(run.vectors):,} candidate pairs")
    model = run.model
    print(f"-- model: EM {getattr(model, 'n_iter_', '?')} iterations, converged {getattr(model, 'converged_', '?')}, "
          f"share with a report {getattr(model, 'share_with_report_', float('nan')):.3f}")
    per_resident = run.vectors.index.get_level_values(0).astype(str).value_counts()
    named = run.residents.set_index(run.residents["resident_id"].astype(str))["name_evidence"].fillna(True).astype(bool)
    for label, group in (("with a usable name", named), ("without", ~named)):
        print(f"-- pairs per resident {label}: {per_resident.reindex(group.index[group], fill_value=0).mean():.0f}")
    print("-- where true pairs are lost (residents)")
    fate = fates(run, data, uncapped)
    print(fate_table(fate, family).to_string())
    if uncapped is not None:
        capped = fate["resident_id"][fate["fate"] == "capped"]
        lost = uncapped[uncapped["resident_id"].astype(str).isin(set(capped))]
        print("-- passes proposing the true pairs of residents whose true pairs were capped:",
              lost["passes"].str.split("+").explode().value_counts().to_dict())
    print(run.candidate_counts.to_string(index=False))
    recall = evaluate_by_family(run.table, data["truth"], family, ks=(1, 10, 50))
    leads = false_leads(run.table, data["truth"], threshold=run.settings.review_threshold)
    print(f"-- recall; false leads: {leads['residents_with_any_above']} residents "
          f"({leads['pairs_above_threshold']} pairs) of {leads['residents_without_report']} without a report")
    print(recall.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("-- false-lead residents with / without a usable name:",
          " / ".join(str(n) for n in false_lead_residents_by_name(run.table, data["truth"], named,
                                                                  run.settings.review_threshold)))
    print("-- what the false-lead pairs agree on (comparisons whose weight is above 0: pairs, mean weight)")
    print(false_lead_agreements(run.table, data["truth"], run.settings.review_threshold).to_string())
    print("-- where the pairs ranked above a true pair at 11-50 beat it (per comparison: mean weight above it "
          "minus the true pair's, share of residents where it is 0.5 or more)")
    print(outranking_margins(run.table, data["truth"]).to_string())
    is_true = pair_keys(run.table).isin(pair_keys(data["truth"].astype(str)))
    bands = calibration_table(run.table["match_probability"].to_numpy(dtype=float), is_true)
    judged = bands[bands["pairs"] >= 100]
    worst = float(judged["difference"].abs().max()) if len(judged) else float("nan")
    print(f"-- calibration of the ranked pairs (worst |difference| in bands of >= 100 pairs: {worst:.3f})")
    print(bands.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return {"recall": recall, "false_leads": leads, "calibration": bands, "worst_band": worst}


def false_lead_residents_by_name(table: pd.DataFrame, truth: pd.DataFrame, named: pd.Series,
                                 threshold: float) -> tuple[int, int]:
    """The residents without a true report that have a pair above ``threshold``: how many with a
    usable name (``named``, by resident id) and how many without."""
    with_truth = set(truth["resident_id"].astype(str))
    ids = table["resident_id"].astype(str)
    leads = pd.Index(ids[~ids.isin(with_truth) & (table["match_probability"] > threshold)].unique())
    has_name = named.reindex(leads, fill_value=True)
    return int(has_name.sum()), int((~has_name).sum())


def false_lead_agreements(table: pd.DataFrame, truth: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per comparison, among the pairs above ``threshold`` of residents without a true report: how
    many have a positive weight for it, its mean weight there and over all of them."""
    with_truth = set(truth["resident_id"].astype(str))
    leads = table[~table["resident_id"].astype(str).isin(with_truth) & (table["match_probability"] > threshold)]
    weights = leads[[c for c in leads.columns if c.startswith("w_")]]
    return pd.DataFrame({"pairs_agreeing": (weights > 0).sum(), "mean_weight_there": weights.where(weights > 0).mean(),
                         "mean_weight_all": weights.mean()}).round(2).sort_values("pairs_agreeing", ascending=False)


def outranking_margins(table: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per comparison, over the residents whose best true pair ranks 11-50: the mean over residents
    of (the mean weight of the pairs ranked above the true pair minus the true pair's weight), and
    the share of those residents where that margin is 0.5 or more."""
    weights = [c for c in table.columns if c.startswith("w_")]
    ranked = table.assign(true=pair_keys(table).isin(pair_keys(truth.astype(str))),
                          resident=table["resident_id"].astype(str))
    best = ranked[ranked["true"]].groupby("resident")["rank"].min()
    best = best[best > 10]
    if best.empty:
        return pd.DataFrame(columns=["mean_margin", "share_0.5"])
    ranked = ranked[ranked["resident"].isin(best.index)]
    true_rank = ranked["resident"].map(best)
    true_weights = ranked[ranked["rank"] == true_rank].groupby("resident")[weights].first()
    above = ranked[ranked["rank"] < true_rank].groupby("resident")[weights].mean()
    margins = above - true_weights.reindex(above.index)
    return pd.DataFrame({"mean_margin": margins.mean(), "share_0.5": (margins >= 0.5).mean()}).round(2).sort_values(
        "mean_margin", ascending=False)


def prescore_terms(data: dict, settings: CandidateSettings) -> pd.DataFrame:
    """The pre-score's terms (``candidates.PRESCORE_TERMS``) of every pair the passes propose with
    no cap, and whether the pair is true: each term alone, read as the pre-score with only its weight
    set to 1 (so the fit reads the very values the caps rank by)."""
    uncapped = uncapped_settings(settings)
    pairs = candidate_pairs_frame(data, uncapped)
    res, rep = candidate_index.pair_sides(data["residents"], data["missing"], uncapped)
    r = res.position(pairs["resident_id"])
    m = rep.position(pairs["missing_id"])
    terms = {}
    for term in candidate_index.PRESCORE_TERMS:
        weights = dict.fromkeys(candidate_index.PRESCORE_TERMS, 0.0) | {term: 1.0}
        terms[term] = candidate_index.prescore(res, rep, r, m, far_km=settings.cap_far_km, weights=weights)
    out = pd.DataFrame(terms)
    same_sex = candidate_index.prescore(res, rep, r, m, weights=dict.fromkeys(candidate_index.PRESCORE_TERMS, 0.0))
    out["true"] = pair_keys(pairs).isin(pair_keys(data["truth"].astype(str)))
    return out[same_sex == 0].reset_index(drop=True)


def candidate_pairs_frame(data: dict, settings: CandidateSettings) -> pd.DataFrame:
    return packed_candidate_pairs(data["residents"], data["missing"], settings, progress=False).unpack().pairs


def fit_prescore(seeds: list[int], n_residents: int, n_missing: int, cache: Path | None,
                 settings: CandidateSettings | None = None) -> dict[str, float]:
    """Weights for the pre-score: a logistic regression of true against other pairs on its terms
    (over the pairs of ``settings``' passes, none capped), coefficients doubled (one point = half a
    unit of log-odds) and rounded to 0.05."""
    from sklearn.linear_model import LogisticRegression

    settings = settings or CandidateSettings()
    terms = pd.concat([prescore_terms(simulated(n_residents, n_missing, seed, cache), settings)
                       for seed in seeds], ignore_index=True)
    columns = list(candidate_index.PRESCORE_TERMS)
    fitted = LogisticRegression(max_iter=2000).fit(terms[columns], terms["true"])
    weights = {c: round(2 * float(w) / 0.05) * 0.05 for c, w in zip(columns, fitted.coef_[0], strict=True)}
    print(f"-- pre-score weights fitted on {len(terms):,} pairs ({int(terms['true'].sum())} true), seeds {seeds}:")
    print(weights)
    return weights


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--missing", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--no-uncapped", action="store_true", help="skip the uncapped candidates (capped = never)")
    parser.add_argument("--baseline", action="store_true", help="without clothing, sex a wall (baseline_settings)")
    parser.add_argument("--no-clothing", action="store_true", help="without the clothing comparisons only")
    parser.add_argument("--sex-wall", action="store_true", help="a recorded-sex mismatch excluded by every pass only")
    parser.add_argument("--fitted-prescore", action="store_true",
                        help="the caps rank by FITTED_PRESCORE_WEIGHTS (the default)")
    parser.add_argument("--hand-prescore", action="store_true", help="the caps rank by HAND_PRESCORE_WEIGHTS")
    parser.add_argument("--prescore-share", type=float,
                        help="the caps rank by weights this share of the way from the hand to the fitted ones")
    parser.add_argument("--condition-passes", action="store_true", help="with passes.CONDITION_PASSES")
    parser.add_argument("--other-sex-cap", type=int, help="name_sound's pairs of the other sex capped apart at this")
    parser.add_argument("--fit-sample", type=int, help="with --fit-on-default: fit on this many residents' candidates")
    parser.add_argument("--nameless-scale", type=float, default=1.0,
                        help="the caps of residents without a usable name times this")
    parser.add_argument("--no-other-sex-passes", dest="other_sex_passes", action="store_false",
                        help="without passes.OTHER_SEX_PASSES (among the defaults)")
    parser.add_argument("--home-conditions", action="store_true", help="with passes.HOME_CONDITION_PASSES")
    parser.add_argument("--other-sex-pass-cap", type=int, help="the other-sex passes' cap")
    parser.add_argument("--other-sex-min-score", type=float, help="the other-sex passes' min_score")
    parser.add_argument("--other-sex-min-weight", type=float,
                        help="the other-sex passes' min_weight (ranked only from this match weight up; nan: none)")
    parser.add_argument("--fit-all-passes", action="store_true",
                        help="the model fitted on the added passes' pairs too (CandidatePass.fit)")
    parser.add_argument("--clothing-cap", type=int, help="the clothing passes' cap")
    parser.add_argument("--clothing-pass", choices=("none", "all"),
                        help="none: without the default dated_clothing pass; all: with passes.CLOTHING_PASSES too")
    parser.add_argument("--named-scale", type=float, default=1.0,
                        help="the caps of residents with a usable name times this in the passes that raise the "
                        "nameless residents' caps")
    parser.add_argument("--fit-on-default", action="store_true",
                        help="fit the model on the default candidates, score the candidates of the options")
    parser.add_argument("--model-options", type=json.loads,
                        help="LinkSettings.model_options as JSON, e.g. '{\"posterior\": \"person\"}'")
    parser.add_argument("--save-table", type=Path, help="write each seed's linking table here (a pickle per seed)")
    parser.add_argument("--cache", type=Path, help="folder keeping the normalized simulated data between runs")
    parser.add_argument("--dedupe", action="store_true", help="duplicate reports clustered, one row per person "
                        "(LinkSettings.dedupe_reports; recall counts a cluster row for any member)")
    parser.add_argument("--fit-prescore", action="store_true", help="fit the candidate pre-score's weights and stop")
    parser.add_argument("--gap-bands", action="store_true",
                        help="the time gap in the finer bands (GAP_BANDS_DAYS, before_level=True)")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    if args.fit_prescore:
        passes = candidate_experiment(LinkSettings(), False, args.condition_passes, None).candidate_settings()
        fit_prescore(args.seeds, args.residents, args.missing, args.cache, passes)
        return 0
    settings = None
    if args.baseline or args.no_clothing or args.sex_wall:
        settings = baseline_settings(clothing=not (args.baseline or args.no_clothing),
                                     sex_wall=args.baseline or args.sex_wall)
    if (args.fitted_prescore or args.condition_passes or args.other_sex_cap is not None or args.nameless_scale != 1
            or args.prescore_share is not None or args.hand_prescore):
        settings = candidate_experiment(settings or LinkSettings(), args.fitted_prescore, args.condition_passes,
                                        args.other_sex_cap, args.nameless_scale, args.prescore_share,
                                        args.hand_prescore)
    if (not args.other_sex_passes or args.other_sex_pass_cap is not None or args.other_sex_min_score is not None
            or args.other_sex_min_weight is not None or args.fit_all_passes or args.named_scale != 1
            or args.home_conditions or args.clothing_pass or args.clothing_cap is not None):
        settings = thin_evidence_experiment(settings or LinkSettings(), args.other_sex_passes, args.named_scale,
                                            args.home_conditions, args.clothing_pass, args.other_sex_pass_cap,
                                            args.fit_all_passes, args.other_sex_min_score, args.clothing_cap,
                                            args.other_sex_min_weight)
    if args.fit_on_default:
        from dataclasses import replace

        base = settings or LinkSettings()
        fit_on = (baseline_settings(clothing=not (args.baseline or args.no_clothing),
                                    sex_wall=args.baseline or args.sex_wall)
                  if args.baseline or args.no_clothing or args.sex_wall else LinkSettings())
        settings = replace(base, fit_candidates=fit_on.candidate_settings(), fit_sample=args.fit_sample)
    if args.model_options:
        from dataclasses import replace

        settings = replace(settings or LinkSettings(), model_options=args.model_options)
    if args.gap_bands:
        from dataclasses import replace

        from kinmatch.match.comparisons.time_gap import GAP_BANDS_DAYS, TimeGapComparison

        base = settings or LinkSettings()
        fine = TimeGapComparison(bands=GAP_BANDS_DAYS, before_level=True)
        settings = replace(base, comparisons=[fine if c.name == fine.name else c for c in base.comparisons])
    if args.dedupe:
        from dataclasses import replace

        settings = replace(settings or LinkSettings(), dedupe_reports=True)
    for seed in args.seeds:
        one_seed(args.residents, args.missing, seed, not args.no_uncapped, settings, args.cache, args.save_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
