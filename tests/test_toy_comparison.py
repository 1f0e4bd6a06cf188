"""A comparison defined here alone, in the test file, reaches every place a comparison shows up:
the candidates' weight columns, the explanations, the model, the notebook display and the review
page's pair view. No other file knows of it."""

import numpy as np
import pytest

from kinmatch.match.comparisons.base import MISSING, Comparison, object_array

COLOURS = ("黑", "白", "红", "蓝", "灰", "黄", "绿", "咖啡", "紫")


def colours_in(text) -> frozenset:
    return frozenset(c for c in COLOURS if isinstance(text, str) and c in text)


class ClothingColourComparison(Comparison):
    """Colours named in the clothing: 2 share a colour, 1 both described without one, -1 either blank."""

    name = "clothing_colour"
    title = "衣着颜色"
    labels = {MISSING: "衣着颜色不详", 0: "衣着颜色不同", 1: "衣着颜色相同"}
    agree_from = 1
    left_columns = right_columns = ("clothing",)
    fields = (("衣着", "clothing", "clothing"),)

    def encode(self, residents, missing):
        return ([colours_in(v) for v in residents["clothing"]], [colours_in(v) for v in missing["clothing"]])

    def levels(self, encoded, lp, rp):
        left, right = encoded
        return np.array([MISSING if not left[i] or not right[j] else int(bool(left[i] & right[j]))
                         for i, j in zip(lp, rp)], dtype=np.int8)

    def reasons(self, encoded, lp, rp, levels):
        left, right = encoded
        texts = self.label_array(levels)
        for k, (i, j, level) in enumerate(zip(lp, rp, levels)):
            if level == 1:
                texts[k] = f"衣着颜色相同({'、'.join(sorted(left[i] & right[j]))})"
        return object_array(list(texts))


@pytest.fixture(scope="module")
def toy_run():
    from kinmatch.datasets.simulate import simulate
    from kinmatch.match.pipeline import run_link
    from kinmatch.match.settings import LinkSettings, default_comparisons

    sim = simulate(n_missing=1500, n_residents=150, seed=5)
    residents, missing = sim.residents.copy(), sim.missing.copy()
    # the same colour on both sides of every true pair, another colour on every other report
    truth = sim.truth.drop_duplicates("resident_id").set_index("resident_id")["missing_id"]
    colour_of_report = {m: "白色衬衫" for m in missing["missing_id"]}
    residents["clothing"] = "红色棉袄"
    for missing_id in truth.to_numpy():
        colour_of_report[missing_id] = "红色外套"
    missing["clothing"] = missing["missing_id"].map(colour_of_report)
    settings = LinkSettings(comparisons=default_comparisons() + [ClothingColourComparison()])
    run = run_link(residents, missing, top_k=10, progress=False, n_jobs=1, settings=settings)
    return run, sim


def test_toy_comparison_has_its_weight_column_and_model_levels(toy_run):
    run, _ = toy_run
    assert "w_clothing_colour" in run.table.columns
    assert "clothing_colour" in run.vectors.columns
    weights = run.table["w_clothing_colour"]
    # agreement is rare among random pairs and common among true ones: EM gives it a positive weight
    assert weights.max() > 1.0
    assert set(np.unique(run.vectors["clothing_colour"])) <= {-1, 0, 1}


def test_toy_comparison_is_explained_from_its_own_values(toy_run):
    run, _ = toy_run
    explained = run.table["explanation"].str.contains("衣着颜色相同(红)", regex=False)
    assert explained.any()
    # every row that agrees on the colour and shows the reason has a positive weight for it
    assert (run.table.loc[explained, "w_clothing_colour"] > 0).all()


def test_toy_comparison_raises_recall(toy_run):
    from kinmatch.match.evaluate import recall_at_k

    run, sim = toy_run
    assert recall_at_k(run.table, sim.truth, ks=(1,))["recall@1"] > 0.9


def test_toy_comparison_colours_the_notebook_display(toy_run):
    from kinmatch.match.display import GREEN, show_candidates

    run, _ = toy_run
    resident_id = run.table.loc[run.table["w_clothing_colour"] > 0, "resident_id"].iloc[0]
    styler = show_candidates(run.table, run.residents, run.missing, resident_id, settings=run.settings)
    html = styler.to_html()
    assert "衣着" in styler.data.index
    row = styler.data.loc["衣着"]
    assert row.iloc[0] == "红色棉袄"
    assert GREEN.split(": ")[1] in html


def test_toy_comparison_travels_in_the_model_settings(toy_run):
    from kinmatch.match.settings import LinkSettings

    run, _ = toy_run
    settings = LinkSettings.from_dict(run.settings.to_dict())
    assert settings.names[-1] == "clothing_colour"
    assert isinstance(settings.comparisons[-1], ClothingColourComparison)


def test_toy_comparison_shows_on_the_review_pages_pair_view(toy_run, tmp_path):
    import re

    from kinmatch.review.store import Store
    from kinmatch.review.web import create_app

    run, sim = toy_run
    store = Store(tmp_path / "cases.db")
    store.load_candidates(run.table, sim.residents, sim.missing, run_id="toy", levels=run.vectors,
                          settings=run.settings)
    store.add_user("rev1", "reviewer-pass-1", "reviewer")
    app = create_app(store, photo_dir=tmp_path)
    app.config["TESTING"] = True
    row = run.table[run.table["w_clothing_colour"] > 0].iloc[0]
    with app.test_client() as client:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": "rev1", "password": "reviewer-pass-1", "csrf_token": token})
        page = client.get(f"/pair/{row['resident_id']}/{row['missing_id']}").get_data(as_text=True)
    store.close()
    assert "衣着颜色" in page  # the comparison's title on the weights chart
    assert "衣着颜色相同" in page  # its level label
    # the clothing row is coloured by the toy comparison's positive weight
    clothing_row = re.search(r'<tr class="([^"]*)"><th>衣着[ <]', page)
    assert clothing_row and clothing_row.group(1) == "agree"


def test_a_model_fitted_without_the_toy_comparison_is_refused(toy_run):
    from kinmatch.match.model import ModelMismatchError
    from kinmatch.match.pipeline import run_link
    from kinmatch.match.settings import LinkSettings

    run, sim = toy_run
    default_model = run_link(sim.residents, sim.missing, top_k=3, progress=False, n_jobs=1).model
    with pytest.raises(ModelMismatchError, match="clothing_colour"):
        run_link(sim.residents, sim.missing, top_k=3, progress=False, n_jobs=1, model=default_model,
                 settings=LinkSettings(comparisons=run.settings.comparisons))
