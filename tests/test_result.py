"""The run in hand: link_run returns what link does plus the model, levels, counts and views."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import kinmatch
from kinmatch.errors import InputError
from kinmatch.match.pipeline import score
from kinmatch.match.result import LinkResult, score_pair


@pytest.fixture(scope="module")
def data():
    sim = kinmatch.datasets.simulate(n_missing=500, n_residents=50, seed=5)
    residents, _ = kinmatch.read_residents(sim.residents)
    missing, _ = kinmatch.read_missing(sim.missing)
    return residents, missing


@pytest.fixture(scope="module")
def result(data):
    return kinmatch.link_run(*data, top_k=5, progress=False, n_jobs=1)


def test_link_run_holds_the_run(data, result):
    assert isinstance(result, LinkResult)
    table = kinmatch.link(*data, top_k=5, progress=False, n_jobs=1)
    pd.testing.assert_frame_equal(result.candidates, table)
    assert list(result.comparisons.index.names) == ["resident_id", "missing_id"]
    assert set(result.settings.names) <= set(result.comparisons.columns)
    assert result.pass_counts["pass"].iloc[-1] == "union"
    assert result.pass_counts["kept"].iloc[-1] == len(result.comparisons)
    assert hasattr(result.model, "m_")


def test_score_pair_of_a_ranked_pair_is_the_tables(result):
    for _, row in result.candidates.sample(5, random_state=0).iterrows():
        pair = result.score_pair(row["resident_id"], row["missing_id"])
        assert pair.match_weight == pytest.approx(row["match_weight"])
        assert pair.match_probability == pytest.approx(row["match_probability"])
        assert pair.explanation == row["explanation"]
        weights = dict(zip("w_" + pair.table["comparison"], pair.table["weight"]))
        assert weights == pytest.approx({c: row[c] for c in result.settings.weight_columns})


def test_score_pair_explains_a_pair_no_pass_proposed(result):
    proposed = set(result.comparisons.index)
    resident_id = result.residents["resident_id"].iloc[0]
    missing_id = next(m for m in result.missing["missing_id"] if (resident_id, m) not in proposed)
    pair = result.score_pair(resident_id, missing_id)
    assert len(pair.table) == len(result.settings.comparisons)
    assert pair.match_weight == pytest.approx(pair.prior_weight + pair.table["weight"].sum())
    # the same levels through the model's own scoring
    levels = pair.table.set_index("comparison")["level"]
    term_frequencies = result.settings.term_frequencies
    vectors = pd.DataFrame([levels.to_dict()]).assign(**{tf.column: np.nan for tf in term_frequencies})
    _, weight, _ = score(result.model, vectors, result.settings)
    if all(levels[tf.comparison] not in tf.levels for tf in term_frequencies):
        assert weight[0] == pytest.approx(pair.match_weight)
    with pytest.raises(InputError, match="not among this run"):
        result.score_pair(resident_id, "no-such-report")


def test_score_pair_of_two_records(result, data):
    residents, missing = data
    pair = score_pair(residents.iloc[0], missing.iloc[0], result.model, result.settings)
    assert pair.table["comparison"].tolist() == result.settings.names
    assert pair.match_weight == pytest.approx(pair.prior_weight + pair.table["weight"].sum())
    ranked = result.score_pair(residents["resident_id"].iloc[0], missing["missing_id"].iloc[0])
    # comparisons that do not weigh rarity among all reports score the same alone as in the run
    same = ~pair.table["comparison"].isin(["marks", "build"])
    assert pair.table["level"][same].tolist() == ranked.table["level"][same].tolist()


def test_show_from_the_result(result):
    resident_id = result.candidates["resident_id"].iloc[0]
    html = result.show(resident_id).to_html()
    assert str(result.candidates["missing_id"].iloc[0]) in html


def test_display_reachable_without_importing_it():
    code = ("import kinmatch, pandas as pd\n"
            "f = kinmatch.match.display.show_candidates\n"
            "print(f.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "show_candidates"


def test_repr_is_short(result):
    assert repr(result).startswith("LinkResult: ")
    assert "<table" in result._repr_html_()


def test_model_repr_opens_with_the_readable_table(result):
    text = repr(result.model)
    first, second = text.splitlines()[:2]
    assert first.startswith("FellegiSunter: ") and "λ" in first
    assert second.split() == ["comparison", "levels", "label", "m", "u", "weight"]
    assert "姓名相同" in text and "settings=<" in text and "'format'" not in text  # no settings dump
    html = result.model._repr_html_()
    assert html.index("<table") < html.index("<code>")


def test_pooled_levels_are_shown_once_with_the_reason():
    from kinmatch.match.model import FellegiSunter
    from kinmatch.match.model.fellegi_sunter import POOLED_NOTE

    model = FellegiSunter.from_parameters({"geo": [0.2, 0.1, 0.7]}, {"geo": [0.4, 0.2, 0.4]}, 0.01,
                                          level_labels={"geo": ["很远", "千公里内", "同县"]})
    text = repr(model)
    assert "很远 / 千公里内 *" in text and POOLED_NOTE in text
    assert text.split("\n* ")[0].count("千公里内") == 1  # one row in the table
    table = model.readable_table()
    assert table["levels"].tolist() == [(0, 1), (2,)]
    assert table["m"].tolist() == pytest.approx([0.3, 0.7])
    unpooled = FellegiSunter.from_parameters({"geo": [0.1, 0.2, 0.7]}, {"geo": [0.4, 0.2, 0.4]}, 0.01)
    assert POOLED_NOTE not in repr(unpooled)


def test_build_compare_on_kinmatch_normalized_frames(result):
    pytest.importorskip("recordlinkage")
    from kinmatch.match.comparisons.interop import build_compare

    pairs = result.comparisons.index[:30]
    levels = build_compare().compute(pairs, result.residents.set_index("resident_id"),
                                     result.missing.set_index("missing_id"))
    # rarity-weighted comparisons (marks, build) see only these pairs' records in recordlinkage
    same = [c for c in result.settings.names if c not in ("marks", "build")]
    assert (levels[same].to_numpy() == result.comparisons.loc[pairs, same].to_numpy()).all()
