"""The model fitted on one candidate set and the pairs of another scored with it
(``LinkSettings.fit_candidates``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from kinmatch.datasets import simulate
from kinmatch.errors import InputError
from kinmatch.match.candidates import CandidateSettings
from kinmatch.match.passes import CONDITION_PASSES
from kinmatch.match.pipeline import fit_residents, prepare_records, run_link
from kinmatch.match.settings import LinkSettings


@pytest.fixture(scope="module")
def records():
    sim = simulate(n_missing=1500, n_residents=200, seed=5)
    return prepare_records(sim.residents, "resident"), prepare_records(sim.missing, "missing")


def _narrow() -> CandidateSettings:
    return CandidateSettings().with_pass("marks", cap=5).with_pass("last_resort", cap=10)


def _wide() -> CandidateSettings:
    regular = [p for p in CandidateSettings().passes if not p.fallback]
    fallback = [p for p in CandidateSettings().passes if p.fallback]
    return replace(CandidateSettings(), passes=(*regular, *CONDITION_PASSES, *fallback))


def _pairs(frame: pd.DataFrame) -> set:
    return set(zip(frame["resident_id"], frame["missing_id"], strict=True))


def test_the_model_is_the_one_fitted_on_the_fit_candidates_alone(records):
    residents, missing = records
    alone = run_link(residents, missing, progress=False, n_jobs=1, settings=LinkSettings(candidates=_narrow()))
    apart = run_link(residents, missing, progress=False, n_jobs=1,
                     settings=LinkSettings(candidates=_wide(), fit_candidates=_narrow()))
    wide = run_link(residents, missing, progress=False, n_jobs=1, settings=LinkSettings(candidates=_wide()))
    # the scored pairs are the wide set's ...
    assert len(apart.vectors) == len(wide.vectors) > len(alone.vectors)
    # ... and the model is the narrow set's: m and u as fitted there, not as on the wide set
    for name in alone.model.m_:
        np.testing.assert_allclose(apart.model.m_[name], alone.model.m_[name], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(apart.model.u_[name], alone.model.u_[name], rtol=1e-6, atol=1e-9)
    assert any(not np.allclose(wide.model.m_[name], alone.model.m_[name]) for name in alone.model.m_)
    # pairs both runs rank are scored alike: the narrow run's pair weights on the wide candidates
    both = alone.table.merge(apart.table, on=["resident_id", "missing_id"], suffixes=("_alone", "_apart"))
    assert len(both) > 100
    np.testing.assert_allclose(both["match_weight_alone"], both["match_weight_apart"], rtol=1e-6, atol=1e-6)


def test_fit_candidates_equal_to_the_scored_ones_change_nothing(records):
    residents, missing = records
    plain = run_link(residents, missing, progress=False, n_jobs=1)
    same = run_link(residents, missing, progress=False, n_jobs=1,
                    settings=LinkSettings(fit_candidates=CandidateSettings()))
    assert LinkSettings(fit_candidates=CandidateSettings()).fit_candidate_settings() is None
    pd.testing.assert_frame_equal(plain.table.drop(columns="model_version"), same.table.drop(columns="model_version"))


def test_fit_candidates_travel_in_the_settings_json():
    settings = LinkSettings(candidates=_wide(), fit_candidates=_narrow())
    back = LinkSettings.from_json(settings.to_json())
    assert back.fit_candidates == _narrow() and back.candidates == _wide()
    assert "fit_candidates" not in LinkSettings().to_dict()  # unset: the JSON reads as before


def test_a_given_model_ignores_the_fit_candidates(records):
    residents, missing = records
    fitted = run_link(residents, missing, progress=False, n_jobs=1).model
    given = run_link(residents, missing, progress=False, n_jobs=1, model=fitted,
                     settings=LinkSettings(fit_candidates=_narrow()))
    assert given.model is fitted
    assert _pairs(given.table) == _pairs(run_link(residents, missing, progress=False, n_jobs=1, model=fitted).table)


def test_a_dask_client_refuses_fit_candidates(records):
    residents, missing = records
    with pytest.raises(InputError, match="fit_candidates"):
        run_link(residents, missing, progress=False, client=object(),
                 settings=LinkSettings(candidates=_wide(), fit_candidates=_narrow()))


def test_a_fit_sample_fits_on_that_many_residents_candidates(records):
    residents, missing = records
    settings = LinkSettings(candidates=_wide(), fit_candidates=_narrow(), fit_sample=120)
    sample = fit_residents(residents, settings)
    assert len(sample) == 120 and sample["resident_id"].is_unique
    assert set(sample["resident_id"]) < set(residents["resident_id"])
    apart = run_link(residents, missing, progress=False, n_jobs=1, settings=settings)
    full = run_link(residents, missing, progress=False, n_jobs=1,
                    settings=LinkSettings(candidates=_wide(), fit_candidates=_narrow()))
    assert len(apart.vectors) == len(full.vectors)  # the scored pairs do not depend on the sample
    assert any(not np.allclose(apart.model.m_[name], full.model.m_[name]) for name in full.model.m_)
    # the model is near the one the sample's narrow candidates alone give (u from other random
    # pairs there, so not equal), nearer than to the one fitted on every resident's
    alone = run_link(sample, missing, progress=False, n_jobs=1, settings=LinkSettings(candidates=_narrow()))

    def distance(a, b):
        return sum(np.abs(a.model.m_[name] - b.model.m_[name]).sum() for name in a.model.m_)

    assert distance(apart, alone) < distance(apart, full) / 3


def test_fit_sample_must_be_a_count():
    with pytest.raises(InputError, match="fit_sample"):
        LinkSettings(fit_sample=0)
    assert LinkSettings.from_json(LinkSettings(fit_candidates=_narrow(), fit_sample=50).to_json()).fit_sample == 50
