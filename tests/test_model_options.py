"""The fitted model's options chosen in the link settings (``LinkSettings.model_options``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kinmatch.datasets import simulate
from kinmatch.errors import InputError
from kinmatch.match.pipeline import model_version, prepare_records, run_link
from kinmatch.match.settings import LinkSettings


@pytest.fixture(scope="module")
def records():
    sim = simulate(n_missing=1500, n_residents=200, seed=5)
    return prepare_records(sim.residents, "resident"), prepare_records(sim.missing, "missing")


@pytest.fixture(scope="module")
def plain(records):
    residents, missing = records
    return run_link(residents, missing, progress=False, n_jobs=1)


def test_the_person_posterior_option_changes_probabilities_not_weights(records, plain):
    residents, missing = records
    person = run_link(residents, missing, progress=False, n_jobs=1,
                      settings=LinkSettings(model_options={"posterior": "person"}))
    assert person.model.posterior == "person" and plain.model.posterior == "pair"
    both = plain.table.merge(person.table, on=["resident_id", "missing_id"], suffixes=("_plain", "_person"))
    assert len(both) == len(plain.table) == len(person.table)  # the same pairs ranked
    np.testing.assert_allclose(both["match_weight_plain"], both["match_weight_person"], rtol=1e-9, atol=1e-9)
    assert not np.allclose(both["match_probability_plain"], both["match_probability_person"], atol=1e-3)
    # the model's JSON says how it was fitted: its posterior block and the settings' options
    data = json.loads(person.model.to_json())
    assert data["posterior"]["kind"] == "person"
    assert data["settings"]["model_options"] == {"posterior": "person"}
    assert "posterior" not in json.loads(plain.model.to_json())
    assert model_version(person.model) != model_version(plain.model)


def test_the_tree_dependence_option_reaches_the_model(records, plain):
    residents, missing = records
    options = {"posterior": "person", "dependence": "tree"}
    tree = run_link(residents, missing, progress=False, n_jobs=1, settings=LinkSettings(model_options=options))
    assert tree.model.dependence == "tree" and tree.model.dependence_
    assert not plain.model.dependence_
    assert json.loads(tree.model.to_json())["settings"]["model_options"] == options
    both = plain.table.merge(tree.table, on=["resident_id", "missing_id"], suffixes=("_plain", "_tree"))
    assert len(both) > len(plain.table) // 2
    assert not np.allclose(both["match_weight_plain"], both["match_weight_tree"], atol=1e-3)  # lifts in the weights


@pytest.mark.parametrize("m_estimate", ["held_out", ["time_gap"]])
def test_the_held_out_m_option_reaches_the_model(records, plain, m_estimate):
    residents, missing = records
    held = run_link(residents, missing, progress=False, n_jobs=1,
                    settings=LinkSettings(model_options={"m_estimate": m_estimate}))
    assert held.model.m_estimate == m_estimate and plain.model.m_estimate == "em"
    assert LinkSettings.from_json(held.settings.to_json()).model_options == {"m_estimate": m_estimate}
    assert json.loads(held.model.to_json())["settings"]["model_options"] == {"m_estimate": m_estimate}
    assert not np.allclose(held.model.m_["time_gap"], plain.model.m_["time_gap"], atol=1e-3)
    kept = [n for n in plain.model.comparisons_ if n != "time_gap"]
    same = [np.allclose(held.model.m_[n], plain.model.m_[n]) for n in kept]
    assert all(same) if m_estimate == ["time_gap"] else not all(same)
    np.testing.assert_allclose(held.model.u_["time_gap"], plain.model.u_["time_gap"])  # u and π are the EM's
    assert held.model.share_with_report_ == pytest.approx(plain.model.share_with_report_)


def test_model_options_travel_in_the_settings_json_and_are_absent_when_unset(plain):
    options = {"dependence": "pairwise", "prior": "every_pair", "posterior": "person_em"}
    assert LinkSettings.from_json(LinkSettings(model_options=options).to_json()).model_options == options
    assert "model_options" not in LinkSettings().to_dict()
    assert "model_options" not in LinkSettings(model_options={}).to_dict()
    assert "model_options" not in plain.model.settings  # a plain fit's model (and its version) read as before


@pytest.mark.parametrize("options, message", [
    ({"posteriour": "person"}, "unknown key"),
    ({"posterior": "people"}, "posterior"),
    ({"dependence": "chain"}, "dependence"),
    ({"prior": "uniform"}, "prior"),
    ({"m_estimate": "held"}, "m_estimate"),
    ({"m_estimate": ["time_gap", 3]}, "m_estimate"),
    ("person", "mapping"),
])
def test_unknown_model_options_are_refused(options, message):
    with pytest.raises(InputError, match=message):
        LinkSettings(model_options=options)


def test_unknown_model_options_are_refused_when_read():
    data = LinkSettings().to_dict() | {"model_options": {"posterior": "person", "tol": 1e-3}}
    with pytest.raises(InputError, match="tol"):
        LinkSettings.from_dict(data)
