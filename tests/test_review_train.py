"""Learning from decisions (kinmatch train) and exporting reviewed matches and lead letters."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from review_fixtures import MISSING, RESIDENTS, candidates_table, levels_table
from sklearn.metrics import roc_auc_score

from kinmatch.errors import InputError
from kinmatch.match.settings import default_comparisons
from kinmatch.review.export import LETTER_ARGUMENTS, export_decisions, export_leads, render_leads
from kinmatch.review.store import Store
from kinmatch.review.train import load_model, save_model, train_from_store

COMPARISONS = [c.name for c in default_comparisons()]
N_LEVELS = {c.name: c.n_levels for c in default_comparisons()}


def labelled_store(path, n=80, seed=0):
    """A store whose decided pairs have levels that separate matches (name, age agree) from not."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < 0.4
    pairs, levels, decisions = [], {}, []
    for i, match in enumerate(is_match):
        key = (f"R{i:03d}", f"M{i:03d}")
        row = {c: int(rng.integers(-1, N_LEVELS[c])) for c in COMPARISONS}
        row["name"] = int(rng.choice([5, 6]) if match else rng.choice([0, 1, 2, 4]))
        row["age"] = int(3 if match else rng.choice([0, 1, 2]))
        levels[key] = row
        # the unsupervised score is informative but noisy
        pairs.append((*key, float(np.clip((0.65 if match else 0.35) + rng.normal(0, 0.2), 0.01, 0.99))))
        decisions.append("same" if match else "not_same")
    frame = pd.DataFrame.from_dict(levels, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index)
    store = Store(path)
    store.load_candidates(candidates_table(pairs), levels=frame, run_id="train")
    for (resident_id, missing_id, _), decision in zip(pairs, decisions, strict=True):
        store.decide(resident_id, missing_id, decision, "rev1")
    return store, pairs, is_match, frame


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """The labelled store built once (80 committed decisions); each test works on a copy."""
    path = tmp_path_factory.mktemp("labelled") / "t.db"
    store, pairs, is_match, levels = labelled_store(path)
    store.close()
    return path, pairs, is_match, levels


@pytest.fixture
def labelled_copy(labelled, tmp_path):
    path, pairs, is_match, levels = labelled
    shutil.copy(path, tmp_path / "t.db")
    store = Store(tmp_path / "t.db")
    yield store, pairs, is_match, levels
    store.close()


def test_supervised_model_learns_from_decisions(labelled_copy):
    store, pairs, is_match, levels = labelled_copy
    store.decide("R000", "M000", "unsure", "rev2")  # now unsure: left out of training
    result = train_from_store(store, cv=5)
    assert result.n_pairs == len(pairs) - 1 and result.n_skipped == 0
    assert result.supervised["roc_auc"] > 0.95
    stored = np.array([p for _, _, p in pairs])[1:]
    assert result.unsupervised["roc_auc"] == pytest.approx(roc_auc_score(is_match[1:], stored))
    assert result.supervised["roc_auc"] > result.unsupervised["roc_auc"]
    assert result.supervised["folds"] == 5


def test_saved_model_is_readable_and_scores_like_the_fitted_one(labelled_copy, tmp_path):
    store, _, _, levels = labelled_copy
    result = train_from_store(store)
    text = save_model(result.model, tmp_path / "model.json")
    data = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert data == json.loads(text)
    assert data["comparisons"]["name"]["levels"][6]["label"] == "姓名相同"
    assert data["comparisons"]["name"]["levels"][6]["weight"] > data["comparisons"]["name"]["levels"][0]["weight"]
    loaded = load_model(tmp_path / "model.json")
    assert type(loaded).__name__ == "FellegiSunter"
    probe = levels[list(result.model.comparisons_)].head(20)
    np.testing.assert_allclose(loaded.predict_proba(probe).to_numpy(), result.model.predict_proba(probe).to_numpy(),
                               rtol=1e-9)
    missing_all = probe.assign(**{c: -1 for c in probe.columns})
    np.testing.assert_allclose(loaded.match_weight(missing_all), loaded.prior_weight_)
    # the file says how the weights were obtained: the logistic regression that ran, not an EM
    regression = result.model.estimator_
    assert data["fitted_on"]["method"] == "supervised" and data["fitted_on"]["n_pairs"] == result.n_pairs
    assert data["fitted_on"]["n_iter"] == int(regression.n_iter_[0]) > 0
    assert data["fitted_on"]["converged"] is bool(regression.n_iter_[0] < regression.max_iter)
    assert data["params"]["method"] == "em" and data["params"]["max_iter"] != 0  # nothing forged
    assert data["supervised"]["n_matches"] == result.model.n_matches_
    assert (loaded.fit_method_, loaded.n_iter_, loaded.supervised_) == ("supervised", data["fitted_on"]["n_iter"],
                                                                        data["supervised"])
    assert load_model(loaded.to_json()).to_json() == text  # one writer: reading and writing again changes nothing


@pytest.mark.parametrize("decisions, message", [
    ([], "0 pair"),
    (["same", "same", "not_same"], "1 decided 非同一人"),
    (["unsure", "unsure", "unsure", "unsure"], "0 pair"),
])
def test_too_few_decisions_is_a_clear_error(tmp_path, decisions, message):
    store = Store(tmp_path / "few.db")
    pairs = [(f"R{i}", f"M{i}", 0.5) for i in range(4)]
    store.load_candidates(candidates_table(pairs), levels=levels_table(pairs))
    for (resident_id, missing_id, _), decision in zip(pairs, decisions, strict=False):
        store.decide(resident_id, missing_id, decision, "rev1")
    with pytest.raises(InputError, match=message):
        train_from_store(store)


def test_train_command_prints_both_models_and_saves(labelled_copy, tmp_path, capsys):
    from kinmatch.cli import main

    assert main(["train", "--db", str(tmp_path / "t.db"), "--save", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert re_line(out, "roc_auc") and "supervised (CV)" in out and "unsupervised" in out
    assert load_model(tmp_path / "m.json").prior_weight_ != 0


def re_line(text, metric):
    import re

    match = re.search(rf"^{metric}\s+([0-9.]+)\s+([0-9.]+)$", text, re.M)
    return match is not None and 0 <= float(match.group(1)) <= 1


def test_real_pipeline_link_review_train_relink(tmp_path):
    """simulate → link → load (levels computed) → decide by the truth → train → link with it."""
    import kinmatch

    sim = kinmatch.datasets.simulate(12, 12, seed=2)
    candidates = kinmatch.link(sim.residents, sim.missing, top_k=3, progress=False)
    store = Store(tmp_path / "sim.db")
    store.load_candidates(candidates, sim.residents, sim.missing, run_id="sim")
    truth = set(zip(sim.truth["resident_id"].astype(str), sim.truth["missing_id"].astype(str), strict=True))
    for resident_id, missing_id in zip(candidates["resident_id"], candidates["missing_id"], strict=True):
        assert store.candidate(resident_id, missing_id)["levels"] is not None
        store.decide(resident_id, missing_id, "same" if (resident_id, missing_id) in truth else "not_same", "rev1",
                     reason=None if (resident_id, missing_id) in truth else "DNA排除")
    result = train_from_store(store, cv=2)
    save_model(result.model, tmp_path / "m.json")
    # the saved file is what `kinmatch link --model` reads
    relinked = kinmatch.link(sim.residents, sim.missing, top_k=3, progress=False, model=str(tmp_path / "m.json"))
    assert relinked["match_probability"].between(0, 1).all() and len(relinked)
    scored = relinked.assign(match=[(r, m) in truth
                                    for r, m in zip(relinked["resident_id"], relinked["missing_id"], strict=True)])
    if scored["match"].nunique() == 2:
        assert roc_auc_score(scored["match"], scored["match_probability"]) > 0.5


def test_exports_and_lead_letters(tmp_path):
    store = Store(tmp_path / "e.db")
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="run1", levels=levels_table())
    store.decide("R1", "M1", "unsure", "rev1")
    store.decide("R1", "M1", "same", "rev2")
    store.decide("R2", "M2", "same", "rev1")
    store.decide("R2", "M2", "not_same", "rev2", reason="DNA排除")  # superseded: no lead
    store.decide("R5", "M5", "same", "rev1")
    reviewed = export_decisions(store)
    assert reviewed[["missing_id", "reviewer", "n_decisions"]].values.tolist() == [["M1", "rev2", 2], ["M5", "rev1", 1]]
    assert export_decisions(store, which=None)["decision"].tolist() == ["same", "not_same", "same"]
    leads = export_leads(store)
    assert leads["missing_id"].tolist() == ["M1", "M5"]
    assert leads.loc[0, "resident"]["name"] == "吴春花" and leads.loc[0, "report"]["hometown"] == "安徽省黄山市歙县"
    from kinmatch.notices import render_letter

    letter = render_letter(**leads.loc[0, LETTER_ARGUMENTS].to_dict(), police_unit="黄山市公安局")
    assert "吴春花" in letter and "胡春花" in letter and "rev2" in letter and "97%" in letter
    assert "13800000001" not in letter  # family contact only on request
    letters = render_leads(store, police_unit="某市公安局")
    assert set(letters) == {("R1", "M1"), ("R5", "M5")} and "张建国" in letters[("R5", "M5")]


# --- training that cannot make things worse (issue 16) ------------------------------------------

ORDERED = [c.name for c in default_comparisons() if c.ordered]


def _ordered_weights_in_order(model_json: dict) -> dict[str, list[float]]:
    """The ordered comparisons whose saved weights go down somewhere (empty: all in order)."""
    broken = {}
    for name in ORDERED:
        weights = [level["weight"] for level in model_json["comparisons"][name]["levels"]]
        if any(b < a - 1e-9 for a, b in zip(weights, weights[1:])):
            broken[name] = weights
    return broken


def adversarial_store(path, n_same=4, n_not=6):
    """Few, one-sided decisions: 同一人 only where sex, age and place conflict, 非同一人 only where
    they agree (a reviewer working through one kind of pair, or a mistaken batch)."""
    pairs, levels, decisions = [], {}, []
    for i in range(n_same + n_not):
        same = i < n_same
        key = (f"R{i:03d}", f"M{i:03d}")
        row = {c: -1 for c in COMPARISONS}
        row.update(sex=0 if same else 1, age=0 if same else 3, geography=0 if same else 5, name=0 if same else 5)
        levels[key] = row
        pairs.append((*key, 0.2 if same else 0.8))
        decisions.append("same" if same else "not_same")
    frame = pd.DataFrame.from_dict(levels, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index)
    store = Store(path)
    store.load_candidates(candidates_table(pairs), levels=frame, run_id="adversarial")
    for (resident_id, missing_id, _), decision in zip(pairs, decisions, strict=True):
        store.decide(resident_id, missing_id, decision, "rev1")
    return store, frame, decisions


def test_adversarial_decisions_leave_the_default_model_and_the_order_alone(tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression

    from kinmatch.cli import main

    db = tmp_path / "adv.db"
    store, levels, decisions = adversarial_store(db)
    # the store's default model: a sensible one, recorded earlier
    default = tmp_path / "default.json"
    good = labelled_store(tmp_path / "good.db", n=80)[0]
    save_model(train_from_store(good).model, default)
    store.set_default_model(default, {"roc_auc": 0.9}, n_pairs=80)
    before = (Store(db).default_model(), default.read_bytes())

    # an unconstrained logistic regression learns these decisions backwards: 性别相符 counts against
    y = np.array([d == "same" for d in decisions], dtype=int)
    plain = LogisticRegression().fit(levels[["sex"]].to_numpy(), y)
    assert plain.coef_[0, 0] < 0

    model_path = tmp_path / "trained.json"
    code = main(["train", "--db", str(db), "--save", str(model_path), "--make-default"])
    err = capsys.readouterr().err
    assert code == 1 and "未设为默认模型" in err and "决定太少" in err
    after = (Store(db).default_model(), default.read_bytes())
    assert after == before  # the default model, and its file, unchanged
    trained = json.loads(model_path.read_text(encoding="utf-8"))
    assert _ordered_weights_in_order(trained) == {}
    sex = [level["weight"] for level in trained["comparisons"]["sex"]["levels"]]
    assert sex[1] >= sex[0]  # 性别相符 never weighs less than 性别不符


def test_levels_without_decisions_keep_the_current_weights(tmp_path):
    store, _, _ = adversarial_store(tmp_path / "adv.db")
    default = tmp_path / "default.json"
    good = labelled_store(tmp_path / "good.db", n=80)[0]
    save_model(train_from_store(good).model, default)
    store.set_default_model(default, {"roc_auc": 0.9}, n_pairs=80)
    current = load_model(default)
    result = train_from_store(store)
    # height was never observed in the adversarial decisions: its weights are the current model's
    trained = result.model.to_fellegi_sunter()
    np.testing.assert_allclose(trained.weights_["height"], current.weights_["height"], atol=1e-4)


def test_make_default_when_measurably_better(labelled_copy, tmp_path, capsys):
    from kinmatch.cli import main

    store, _, _, _ = labelled_copy
    result = train_from_store(store)
    gate = result.gate
    assert gate["beats"] and gate["difference"] > 2 * gate["noise"] > 0
    assert gate["current_model"].startswith("the linking run's model")
    model = tmp_path / "m.json"
    assert main(["train", "--db", str(tmp_path / "t.db"), "--save", str(model), "--make-default"]) == 0
    recorded = Store(tmp_path / "t.db").default_model()
    assert recorded["path"] == str(model.resolve())
    assert json.loads(model.read_text())["supervised"]["cv"]["roc_auc"] == recorded["metrics"]["roc_auc"]
    # trained again on the same decisions, the new model must beat the default it now is: it cannot
    again = train_from_store(Store(tmp_path / "t.db"))
    assert again.gate["current_model"].startswith("the store's default model") and not again.gate["beats"]


def test_make_default_needs_save(labelled_copy, tmp_path):
    from kinmatch.cli import main

    assert main(["train", "--db", str(tmp_path / "t.db"), "--make-default"]) != 0


def test_trained_weights_of_ordered_levels_stay_ordered_on_the_pipeline(tmp_path):
    """simulate → link → decide by the truth, then flip a third of the decisions → train: order holds."""
    import kinmatch

    sim = kinmatch.datasets.simulate(40, 40, seed=4)
    candidates = kinmatch.link(sim.residents, sim.missing, top_k=4, progress=False)
    store = Store(tmp_path / "sim.db")
    store.load_candidates(candidates, sim.residents, sim.missing, run_id="sim")
    truth = set(zip(sim.truth["resident_id"].astype(str), sim.truth["missing_id"].astype(str), strict=True))
    rng = np.random.default_rng(0)
    for resident_id, missing_id in zip(candidates["resident_id"], candidates["missing_id"], strict=True):
        same = (resident_id, missing_id) in truth
        if rng.random() < 0.33:
            same = not same
        store.decide(resident_id, missing_id, "same" if same else "not_same", "rev1")
    result = train_from_store(store, cv=3)
    saved = json.loads(save_model(result.model))
    assert _ordered_weights_in_order(saved) == {}
