"""Every chart renders (image bytes, labelled axes) and draws the data it is given."""

import io

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import kinmatch  # noqa: E402
from kinmatch import charts  # noqa: E402
from kinmatch.errors import InputError  # noqa: E402
from kinmatch.match.model import FellegiSunter  # noqa: E402


@pytest.fixture(scope="module")
def run():
    sim = kinmatch.datasets.simulate(n_missing=600, n_residents=60, seed=3)
    residents, _ = kinmatch.read_residents(sim.residents)
    missing, _ = kinmatch.read_missing(sim.missing)
    return kinmatch.link_run(residents, missing, top_k=5, progress=False, n_jobs=1), sim


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _labelled(figure):
    for ax in figure.axes:
        assert ax.get_xlabel() or ax.get_ylabel(), f"axes {ax.get_title()!r} has no label"


def test_model_weights_draws_every_level_and_pools_tied_ones():
    model = FellegiSunter.from_parameters(
        {"sex": [0.05, 0.95], "age": [0.1, 0.1, 0.8]}, {"sex": [0.5, 0.5], "age": [0.4, 0.4, 0.2]}, 0.01,
        level_labels={"sex": ["性别不符", "性别相符"], "age": ["年龄不可能", "年龄相差大", "年龄相符"]})
    figure = charts.model_weights(model)
    assert _png(figure)[:4] == b"\x89PNG"
    _labelled(figure)
    weights_ax = figure.axes[0]
    ticks = [t.get_text() for t in weights_ax.get_yticklabels()]
    # age levels 0 and 1 have the same weight: drawn once, with both names
    assert ticks == ["性别不符", "性别相符", "年龄不可能 / 年龄相差大", "年龄相符"]
    bars = sorted(weights_ax.patches, key=lambda p: -p.get_y())
    expected = [np.log2(0.05 / 0.5), np.log2(0.95 / 0.5), np.log2(0.1 / 0.4), np.log2(0.8 / 0.2)]
    assert [b.get_width() for b in bars] == pytest.approx(expected)
    assert charts.POOLED_NOTE in figure.get_supxlabel()


def test_match_weight_distribution_separates_true_and_false(run):
    result, sim = run
    figure = charts.match_weight_distribution(result.candidates, sim.truth)
    _labelled(figure)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    n_true = result.candidates.merge(sim.truth, on=["resident_id", "missing_id"]).shape[0]
    assert legend == [f"非同一人（{len(result.candidates) - n_true}）", f"同一人（{n_true}）"]
    heights = sum(p.get_height() for p in figure.axes[0].patches)
    assert heights == len(result.candidates)


def test_waterfall_adds_up_to_the_pairs_weight(run):
    result, _ = run
    row = result.candidates.iloc[0]
    pair = result.score_pair(row["resident_id"], row["missing_id"])
    assert pair.match_weight == pytest.approx(float(row["match_weight"]))
    figure = pair.plot()
    _labelled(figure)
    bars = sorted(figure.axes[0].patches, key=lambda p: -p.get_y())
    total = bars[-1]
    assert total.get_width() == pytest.approx(pair.match_weight)
    # each step starts where the previous ended
    for before, step in zip(bars[:-2], bars[1:-1]):
        assert step.get_x() == pytest.approx(before.get_x() + before.get_width())
    assert len(bars) == 2 + int((pair.table["level"] >= 0).sum())


def test_threshold_curves_match_the_table(run):
    result, sim = run
    figure = charts.threshold_curves(result.candidates, sim.truth)
    _labelled(figure)
    precision, recall = figure.axes[0].get_lines()[:2]
    label = charts.pair_labels(result.candidates, sim.truth)
    table = charts.threshold_table(result.candidates["match_probability"], label)
    assert np.allclose(recall.get_ydata(), table["recall"], equal_nan=True)
    assert recall.get_ydata()[0] == 1.0  # every labelled true candidate is at or above 0
    at_half = result.candidates[result.candidates["match_probability"] >= 0.5]
    true_at_half = charts.pair_labels(at_half, sim.truth).sum()
    assert precision.get_ydata()[50] == pytest.approx(true_at_half / len(at_half))
    false_load = figure.axes[1].get_lines()[0].get_ydata()
    assert false_load[0] == pytest.approx((label == 0).sum() / result.candidates["resident_id"].nunique())


def test_threshold_curves_refuse_one_sided_labels(run):
    result, _ = run
    decided = result.candidates.head(3).assign(decision="not_same")
    with pytest.raises(InputError, match="true and false pairs"):
        charts.threshold_curves(result.candidates, decided)


def test_pass_counts_and_completeness(run):
    result, _ = run
    figure = result.plot_passes()
    _labelled(figure)
    kept = sorted(figure.axes[0].patches, key=lambda p: -p.get_y())[1::2]
    assert [p.get_width() for p in kept] == result.pass_counts["kept"].tolist()
    figure = result.plot_completeness()
    _labelled(figure)
    potential = figure.axes[1].patches
    assert sum(p.get_height() for p in potential) == len(result.residents)
    shares = charts.completeness_table(result.residents)
    assert shares["姓名"] == pytest.approx(result.residents["name_norm"].fillna("").astype(bool).mean())


def test_decisions_as_labels():
    pairs = pd.DataFrame({"resident_id": ["R1", "R1", "R2"], "missing_id": ["M1", "M2", "M3"]})
    decisions = pd.DataFrame({"resident_id": ["R1", "R1", "R2"], "missing_id": ["M1", "M1", "M3"],
                              "decision": ["not_same", "same", "unsure"]})
    assert charts.pair_labels(pairs, decisions).tolist()[0] == 1.0  # the latest decision counts


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF"),
                                           (".html", b"<!doctype")])
def test_save_formats(run, tmp_path, suffix, magic):
    result, _ = run
    path = charts.save(result.plot_model(), tmp_path / f"model{suffix}")
    data = path.read_bytes()
    assert data.startswith(magic) and len(data) > 1000
    if suffix == ".html":
        assert b"http" not in data.split(b"base64,")[0].replace(b"http-equiv", b"")  # nothing fetched


def test_save_refuses_unknown_format(run, tmp_path):
    with pytest.raises(InputError, match=r"\.png, \.svg"):
        charts.save(run[0].plot_passes(), tmp_path / "x.gif")


def test_chinese_labels_use_a_cjk_font(run):
    pytest.importorskip("matplotlib.font_manager")
    from kinmatch.notices.poster import FontNotFound, find_cjk_font

    try:
        find_cjk_font()
    except FontNotFound:
        pytest.skip("no CJK font on this machine (.ci/run installs fonts-wqy-microhei)")
    figure = run[0].plot_model()
    label = figure.axes[0].get_yticklabels()[0]
    assert charts._font_family() in label.get_fontfamily()
