"""The pass by clothes worn when lost and the month of the loss (``dated_clothing``, a default pass
for residents without a usable name; ``passes.CLOTHING_PASSES`` for the others), a pass the model is
not fitted on (``CandidatePass.fit``), and the fallback pass not stopped by pairs of the other
recorded sex (``passes.OTHER_SEX_PASSES``)."""

from dataclasses import replace

import numpy as np
import pandas as pd
from test_candidates import report, resident

from kinmatch.match import candidates as cand
from kinmatch.match.candidates import CandidateSettings, candidate_pairs
from kinmatch.match.passes import CLOTHING_PASSES, DEFAULT_PASSES, OTHER_SEX_PASSES

COAT = ("咖啡色:棉袄", "黑:布鞋")
DATED = next(p for p in DEFAULT_PASSES if p.name == "dated_clothing")


def _clothed(row, items):
    return row | {"clothing_items": tuple(items)}


def _clothing_tables():
    # a resident without a usable name found on 2021-06-10 in a brown cotton coat; reports of the same
    # sex and age: lost 2021-05-20 in the same coat (meets), lost 2020-05-20 in it (a year before: its
    # clothes say nothing), lost 2021-05-20 in a red coat, and lost 2021-05-20 in shoes without a colour
    residents = pd.DataFrame([_clothed(resident("R1", evidence=False, found="2021-06-10"), COAT)])
    missing = pd.DataFrame([
        _clothed(report("M_same", ("张", "zhang"), ("伟", "wei"), lost="2021-05-20"), COAT),
        _clothed(report("M_year", ("李", "li"), ("明", "ming"), lost="2020-05-20"), COAT),
        _clothed(report("M_red", ("王", "wang"), ("军", "jun"), lost="2021-05-20"), ("红:棉袄",)),
        _clothed(report("M_plain", ("赵", "zhao"), ("强", "qiang"), lost="2021-05-20"), (":布鞋",)),
    ])
    return residents, missing


def _settings(*extra):
    return CandidateSettings(passes=[*extra])


def test_the_clothing_pass_proposes_the_same_coloured_garment_lost_within_a_month_only():
    residents, missing = _clothing_tables()
    pairs = candidate_pairs(residents, missing, _settings(DATED), progress=False).pairs
    assert set(pairs["missing_id"]) == {"M_same"}


def test_the_clothing_pass_reaches_back_one_period_and_no_further():
    residents, missing = _clothing_tables()
    day = cand._days(residents, "event_date")[0]
    period = int(day // cand.CLOTHING_PERIOD_DAYS)
    start = pd.Timestamp("1970-01-01") + pd.Timedelta(days=period * cand.CLOTHING_PERIOD_DAYS)
    missing = missing.iloc[[0, 0, 0]].assign(
        missing_id=["M_prev", "M_two_back", "M_same_period"],
        event_date=[start - pd.Timedelta(days=1), start - pd.Timedelta(days=cand.CLOTHING_PERIOD_DAYS + 1), start])
    pairs = candidate_pairs(residents, missing, _settings(DATED), progress=False).pairs
    assert set(pairs["missing_id"]) == {"M_prev", "M_same_period"}


def test_dated_clothing_keys_drop_colourless_pieces_and_undated_records():
    items = np.array([("咖啡色:棉袄", ":布鞋"), ("红:棉袄",), ()], dtype=object)
    days = np.array([60.0, np.nan, 90.0])
    flat = cand._dated_clothing(items, days, 1)
    assert list(zip(flat.positions.tolist(), flat.keys.tolist(), strict=True)) == [(0, "咖啡色:棉袄@2"),
                                                                                   (0, "咖啡色:棉袄@1")]


def test_the_clothing_pass_keeps_the_sexes_apart():
    residents, missing = _clothing_tables()
    missing = missing.assign(sex_code="F")
    pairs = candidate_pairs(residents, missing, _settings(DATED), progress=False).pairs
    assert pairs.empty


def _fallback_tables(n_other_sex):
    # a resident without a usable name, a mole on the forehead, found in place 0; n reports of the
    # other recorded sex share the mole; the true report shares nothing but the province (the fallback's)
    mole = ("痣:额头:",)
    residents = pd.DataFrame([resident("R1", evidence=False, sex="M", marks=mole)])
    rows = [report(f"F{i:03d}", ("张", "zhang"), ("伟", "wei"), sex="F", place=0, marks=mole)
            for i in range(n_other_sex)]
    rows.append(report("M_true", ("李", "li"), ("明", "ming"), sex="M", place=0))
    return residents, pd.DataFrame(rows)


def test_pairs_of_the_other_sex_do_not_stop_the_fallback_pass():
    residents, missing = _fallback_tables(12)
    last_resort = DEFAULT_PASSES[-1]
    assert last_resort.fallback
    settings = CandidateSettings(passes=[*OTHER_SEX_PASSES, last_resort], few_candidates=5)
    pairs = candidate_pairs(residents, missing, settings, progress=False).pairs
    assert "M_true" in set(pairs["missing_id"])
    assert (pairs["missing_id"].str.startswith("F")).sum() > 5  # the other-sex pass did keep more than 5


def test_pairs_of_the_resident_s_own_sex_still_stop_the_fallback_pass():
    residents, missing = _fallback_tables(12)
    missing = missing.assign(sex_code=np.where(missing["missing_id"] == "M_true", "M", "M"))
    marks_same_sex = replace(OTHER_SEX_PASSES[0], name="marks_same_sex", other_sex=False, fit=True)
    settings = CandidateSettings(passes=[marks_same_sex, DEFAULT_PASSES[-1]], few_candidates=5)
    pairs = candidate_pairs(residents, missing, settings, progress=False).pairs
    # the twelve same-sex mole reports are enough: the fallback does not run, so the true report,
    # which shares no mole, is not proposed
    assert "M_true" not in set(pairs["missing_id"])
    assert len(pairs) == 12


def test_fit_rows_are_the_pairs_of_a_pass_fitted_on():
    pairs = pd.DataFrame({"resident_id": ["R1", "R1", "R2", "R3"], "missing_id": ["M1", "M2", "M1", "M3"],
                          "passes": ["marks", "dated_clothing", "marks+dated_clothing", "dated_clothing"]})
    marks = next(p for p in DEFAULT_PASSES if p.name == "marks")
    unfitted = CandidateSettings(passes=[marks, DATED])
    assert not DATED.fit and not CLOTHING_PASSES[0].fit
    assert cand.fit_rows(pairs, unfitted).tolist() == [0, 2]
    fitted = CandidateSettings(passes=[marks, replace(DATED, fit=True)])
    assert cand.fit_rows(pairs, fitted) is None


def _m(model):
    return {name: np.asarray(values, dtype=float) for name, values in model.m_.items()}


def test_a_pass_not_fitted_on_leaves_the_model_as_it_was_and_its_pairs_are_ranked():
    from kinmatch.datasets import simulate
    from kinmatch.match.pipeline import run_link
    from kinmatch.match.settings import LinkSettings

    sim = simulate(n_missing=1500, n_residents=150, seed=5)
    with_clothing = LinkSettings()
    candidates = with_clothing.candidate_settings()
    assert DATED in candidates.passes
    base = replace(with_clothing, candidates=replace(candidates, passes=tuple(p for p in candidates.passes
                                                                               if p is not DATED)))
    before = run_link(sim.residents, sim.missing, top_k=50, progress=False, settings=base, n_jobs=1)
    after = run_link(sim.residents, sim.missing, top_k=50, progress=False, settings=with_clothing, n_jobs=1)
    only_clothing = after.vectors.index.difference(before.vectors.index)
    assert len(only_clothing) > 0  # the pass proposed pairs no other pass did
    assert before.model.lambda_ == after.model.lambda_
    m_before, m_after = _m(before.model), _m(after.model)
    assert m_before.keys() == m_after.keys()
    for name in m_before:
        np.testing.assert_allclose(m_before[name], m_after[name], rtol=1e-12)  # summed in another order
    # and those pairs are scored and ranked
    ranked = pd.MultiIndex.from_frame(after.table[["resident_id", "missing_id"]].astype(str))
    assert len(ranked.intersection(only_clothing.map(lambda ids: tuple(str(i) for i in ids)))) > 0
