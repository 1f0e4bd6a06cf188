"""`kinmatch train --calibrate`: the model in use keeps its ranking and learns its probabilities from
the studio's decisions; `kinmatch link --model` then shows them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from review_fixtures import candidates_table

from kinmatch.errors import InputError
from kinmatch.match.model import FellegiSunter
from kinmatch.review.store import Store
from kinmatch.review.train import calibrate_from_store


def toy_model() -> FellegiSunter:
    return FellegiSunter.from_parameters({"sex": [0.05, 0.95]}, {"sex": [0.5, 0.5]}, 0.01)


def overconfident_store(path, n_residents=150, per_resident=3, seed=0, versions=None, decide_top=None):
    """A store whose pairs' stored weights say more than the decisions: a pair of weight w was the
    same person with probability 1 / (1 + 2**-(w / 2 - 1)) (the model's own: 1 / (1 + 2**-w))."""
    rng = np.random.default_rng(seed)
    pairs, same = [], []
    for r in range(n_residents):
        for k in range(per_resident):
            weight = rng.uniform(-8, 12)
            probability = float(np.clip(1 / (1 + 2.0 ** -weight), 1e-6, 1 - 1e-6))
            pairs.append((f"R{r:04d}", f"M{r:04d}_{k}", probability))
            same.append(rng.random() < 1 / (1 + 2.0 ** -(weight / 2 - 1)))
    table = candidates_table(pairs)
    table["rank"] = np.tile(np.arange(1, per_resident + 1), n_residents)
    if versions is not None:
        table["model_version"] = versions(len(table))
    store = Store(path)
    store.load_candidates(table, run_id="run1")
    for (resident_id, missing_id, _), match, rank in zip(pairs, same, table["rank"], strict=True):
        if decide_top is None or rank <= decide_top:
            store.decide(resident_id, missing_id, "same" if match else "not_same", "rev1")
    return store, table, np.asarray(same)


@pytest.fixture(scope="module")
def overconfident(tmp_path_factory):
    path = tmp_path_factory.mktemp("calib4") / "c.db"
    store, table, same = overconfident_store(path)
    store.close()
    return path, table, same


def test_calibration_learns_the_decisions_map_and_improves_out_of_fold(overconfident):
    path, table, same = overconfident
    store = Store(path, create=False)
    result = calibrate_from_store(store, toy_model())
    store.close()
    assert result.n_pairs == len(table) and result.n_same == int(same.sum())
    calibration = result.model.calibration_
    assert calibration.method == "sigmoid"
    assert calibration.slope == pytest.approx(0.5, abs=0.15) and calibration.intercept == pytest.approx(-1, abs=0.5)
    # the model says 0.8 at weight 2; the decisions say 0.5
    assert result.model.probability_of_weight(np.array([2.0]))[0] == pytest.approx(0.5, abs=0.1)

    def worst(bands):
        return bands.loc[bands["pairs"] >= 30, "difference"].abs().max()

    assert worst(result.after) < 0.1 < worst(result.before)
    assert result.scores_after["brier"] < result.scores_before["brier"]
    assert result.gate["beats"] and "Brier" in result.gate["reason"]
    # ranking is the weight's: the map is increasing
    weights = np.linspace(-10, 15, 50)
    assert np.all(np.diff(result.model.probability_of_weight(weights)) > 0)


def test_too_few_decisions_is_a_clear_chinese_message(tmp_path):
    store, _, _ = overconfident_store(tmp_path / "few.db", n_residents=40, per_resident=3)
    with pytest.raises(InputError, match="已决定的配对太少，不能校准概率：120 对") as error:
        calibrate_from_store(store, toy_model())
    assert "至少需要 200 对" in str(error.value) and "现用模型的概率保持不变" in str(error.value)
    store.close()


def test_pairs_scored_by_another_model_are_left_out(tmp_path):
    from kinmatch.match.pipeline import model_version

    model = toy_model()
    mine = model_version(model)
    store, table, _ = overconfident_store(tmp_path / "v.db", n_residents=120,
                                          versions=lambda n: [mine if i % 3 else "kinmatch-0-other" for i in range(n)])
    result = calibrate_from_store(store, model)
    assert result.n_other_model == (np.arange(len(table)) % 3 == 0).sum()
    assert result.n_pairs == len(table) - result.n_other_model
    store.close()


def test_train_calibrate_command_saves_a_model_link_uses(overconfident, tmp_path, capsys):
    import shutil

    from kinmatch.cli import main

    db = tmp_path / "c.db"
    shutil.copy(overconfident[0], db)
    model_path, out = tmp_path / "current.json", tmp_path / "calibrated.json"
    toy_model().to_json(model_path)
    assert main(["train", "--db", str(db), "--calibrate", "--model", str(model_path), "--save", str(out),
                 "--make-default"]) == 0
    printed = capsys.readouterr().out
    assert "before" in printed and "after" in printed and "0.2–0.5" in printed and "已设为默认模型" in printed
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["calibration"]["method"] == "sigmoid" and saved["calibration"]["n_pairs"] == 450
    store = Store(db, create=False)
    assert store.default_model()["path"] == str(out.resolve())
    store.close()
    # without --model the store's default model is the one recalibrated
    assert main(["train", "--db", str(db), "--calibrate"]) == 0
    assert "scored by" in capsys.readouterr().out


def test_calibrate_without_a_model_says_which_to_give(overconfident, tmp_path):
    import shutil

    from kinmatch.commands.train import run
    from kinmatch.errors import InputError as Error

    db = tmp_path / "c.db"
    shutil.copy(overconfident[0], db)
    args = type("Args", (), {"db": str(db), "calibrate": True, "model": None, "save": None, "make_default": False,
                             "cv": 5, "calibration": "sigmoid"})()
    with pytest.raises(Error, match="还没有默认模型"):
        run(args)


def test_link_with_a_calibrated_model_keeps_the_ranking_and_shows_the_map(tmp_path):
    """simulate → link (save the model) → load → decide by the truth → train --calibrate → link --model."""
    import kinmatch
    from kinmatch.cli import main
    from kinmatch.match.pipeline import run_link

    sim = kinmatch.datasets.simulate(n_missing=900, n_residents=120, seed=5)
    run = run_link(sim.residents, sim.missing, top_k=5, progress=False)
    model_path = tmp_path / "model.json"
    run.model.to_json(model_path)
    # the saved model scores as the run did (so the stored pairs count as its own)
    again = kinmatch.link(sim.residents, sim.missing, top_k=5, progress=False, model=str(model_path))
    assert (again["model_version"] == run.table["model_version"]).all()
    store = Store(tmp_path / "sim.db")
    store.load_candidates(run.table, run_id="sim", compute_levels=False)
    truth = set(zip(sim.truth["resident_id"].astype(str), sim.truth["missing_id"].astype(str), strict=True))
    decided = 0
    for resident_id, missing_id in zip(run.table["resident_id"], run.table["missing_id"], strict=True):
        store.decide(resident_id, missing_id, "same" if (resident_id, missing_id) in truth else "not_same", "rev1")
        decided += 1
    store.close()
    out = tmp_path / "calibrated.json"
    assert main(["train", "--db", str(tmp_path / "sim.db"), "--calibrate", "--model", str(model_path),
                 "--save", str(out)]) == 0
    calibrated = FellegiSunter.from_json(out)
    assert calibrated.calibration_ is not None and calibrated.calibration_.n_pairs == decided
    relinked = kinmatch.link(sim.residents, sim.missing, top_k=5, progress=False, model=str(out))
    key = ["resident_id", "missing_id", "rank"]
    pd.testing.assert_frame_equal(relinked[key].reset_index(drop=True), again[key].reset_index(drop=True))
    np.testing.assert_allclose(relinked["match_weight"], again["match_weight"])
    np.testing.assert_allclose(relinked["match_probability"],
                               calibrated.calibration_.probability(relinked["match_weight"].to_numpy()), atol=1e-9)
    assert not np.allclose(relinked["match_probability"], again["match_probability"])


def test_decisions_on_the_top_candidates_only_are_flagged(tmp_path, capsys):
    from kinmatch.cli import main
    from kinmatch.review.train import top_heavy_warning

    store, _, _ = overconfident_store(tmp_path / "top.db", n_residents=100, per_resident=10, decide_top=3)
    result = calibrate_from_store(store, toy_model())
    store.close()
    assert result.n_pairs == 300
    assert result.rank_coverage == {"decided": 0.0, "stored": pytest.approx(0.7)}
    assert "排在第 3 位之后" in top_heavy_warning(result.rank_coverage)
    toy_model().to_json(tmp_path / "m.json")
    assert main(["train", "--db", str(tmp_path / "top.db"), "--calibrate", "--model", str(tmp_path / "m.json")]) == 0
    assert "全部候选都标上决定" in capsys.readouterr().err


def test_decisions_on_every_candidate_are_not_flagged(overconfident):
    store = Store(overconfident[0], create=False)
    result = calibrate_from_store(store, toy_model())
    store.close()
    from kinmatch.review.train import top_heavy_warning

    assert result.rank_coverage == {"decided": 0.0, "stored": 0.0} and top_heavy_warning(result.rank_coverage) is None
