"""The analyst's charts: the model, the scores, the threshold, the candidate passes, the records.

Every function returns a :class:`matplotlib.figure.Figure` (shown inline in Jupyter) that
:func:`save` writes as PNG, SVG, PDF or a self-contained HTML page::

    >>> import kinmatch                                                    # doctest: +SKIP
    >>> result = kinmatch.link_run(residents, missing, progress=False)    # doctest: +SKIP
    >>> fig = model_weights(result.model)                                 # doctest: +SKIP
    >>> save(fig, "model.svg")                                            # doctest: +SKIP

=====================================  ==========================================================
:func:`model_weights`                  m, u and weight of every comparison level (pooled levels marked)
:func:`match_weight_distribution`      match weights of the candidates; true / false apart with labels
:func:`waterfall`                      how one pair's weight adds up, comparison by comparison
:func:`threshold_curves`               precision, recall and false leads against a probability threshold
:func:`pass_counts`                    pairs proposed and kept by each candidate pass
:func:`field_completeness`             share of records with each field, and identification potential
=====================================  ==========================================================

Why matplotlib: the charts are static images that must also go into the PDF campaign report and
render on an office machine with no network; matplotlib draws PNG, SVG and PDF itself, with no
browser, JavaScript or CDN (Altair/Vega-Lite needs a JavaScript runtime to render and a CDN or a
bundled script for HTML). Figures are made with :class:`~matplotlib.figure.Figure`, not pyplot, so
a chart never lands in pyplot's global list of open figures (a notebook does not show it twice and
a long report run does not leak them).

Labels are Chinese, so the figures use the CJK font the PDF notices use
(:func:`kinmatch.notices.poster.find_cjk_font`: ``KINMATCH_FONT``, then WenQuanYi Micro Hei or Noto
Sans CJK); without one the charts still draw, with a warning that Chinese labels will show as boxes.

Labels (``labels=``) are either reviewers' decisions (a frame with ``resident_id``, ``missing_id``
and ``decision``: ``same`` = 同一人 counts as true, ``not_same`` as false, other pairs are left out)
or the simulator's truth (a frame of the true ``resident_id``, ``missing_id`` pairs: every other
candidate is false); see :func:`pair_labels`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.match.model.fellegi_sunter import POOLED_NOTE

__all__ = ["model_weights", "match_weight_distribution", "waterfall", "threshold_curves", "pass_counts",
           "field_completeness", "pair_labels", "threshold_table", "save", "FORMATS", "POOLED_NOTE"]

FORMATS = ("png", "svg", "pdf", "html")
"""What :func:`save` writes, by the file's suffix."""


TRUE_COLOUR, FALSE_COLOUR, NEUTRAL = "#2b8a3e", "#c92a2a", "#4c6ef5"

PASS_TITLES = {"union": "合计（去重）", "last_resort": "兜底", "name_sound": "姓名同音", "given_sound": "名字同音",
               "one_char": "一字之差", "rare_surname": "罕见姓氏", "prefixed_surname": "带前缀姓氏",
               "hometown": "家乡", "place": "地点", "marks": "体貌特征", "mark_pairs": "两处特征"}


# ---------------------------------------------------------------------------------------------
# the figure and its font


@functools.lru_cache(maxsize=1)
def _font_family() -> str | None:
    """The family name of the CJK font, registered with matplotlib once; None (and a warning) when
    the machine has none."""
    from matplotlib import font_manager

    from kinmatch.notices.poster import FontNotFound, find_cjk_font

    try:
        path = find_cjk_font()
    except FontNotFound as error:
        warnings.warn(f"{error}; the charts are drawn without it, so their Chinese labels show as boxes",
                      stacklevel=3)
        return None
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


@contextlib.contextmanager
def _style():
    """Chinese-capable text while a figure is built (its texts keep the font they were made with)."""
    import matplotlib

    family = _font_family()
    families = ([family] if family else []) + ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False, "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "path",
                                "pdf.fonttype": 42}):
        yield


@functools.lru_cache(maxsize=1)
def _show_inline() -> None:
    """In IPython/Jupyter, display a Figure as a PNG image. A Figure made without pyplot is only
    drawn inline once pyplot's inline backend has registered that formatter; the charts do not use
    pyplot (see the module docstring), so they register it themselves, once, when IPython runs."""
    import sys

    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    if Figure in png.type_printers:  # pyplot's inline backend (or an earlier call) registered one
        return
    png.for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches=None))


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **subplots: Any):
    from matplotlib.figure import Figure

    _show_inline()
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False, **subplots)
    return figure, axes


def save(figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``figure`` to ``path``; the suffix says how (:data:`FORMATS`): ``.png``, ``.svg``,
    ``.pdf``, or ``.html`` (a page with the SVG inside, nothing fetched from a network). Written
    atomically (a temporary file, then renamed); returns the path.

        >>> save(pass_counts(pd.DataFrame({"pass": ["union"], "proposed": [3], "kept": [3]})), "x.gif")
        Traceback (most recent call last):
        ...
        kinmatch.errors.InputError: cannot save a chart as '.gif'; use one of .png, .svg, .pdf, .html
    """
    from kinmatch._io import atomic_write

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"cannot save a chart as {path.suffix!r}; use one of "
                         + ", ".join("." + f for f in FORMATS))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg" if fmt == "html" else fmt, dpi=dpi)
    data = buffer.getvalue()
    if fmt == "html":
        title = figure.get_suptitle() or "kinmatch"
        encoded = base64.b64encode(data).decode("ascii")
        data = (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{title}</title></head>'
                f'<body><img alt="{title}" src="data:image/svg+xml;base64,{encoded}"></body></html>').encode("utf-8")
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return path


# ---------------------------------------------------------------------------------------------
# labels


def pair_labels(pairs: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    """1 (same person), 0 (not) or NaN (unknown) for each row of ``pairs`` (columns
    ``resident_id``, ``missing_id``), from reviewers' decisions or the simulator's truth (see the
    module docstring).

        >>> pairs = pd.DataFrame({"resident_id": ["R1", "R1", "R2"], "missing_id": ["M1", "M2", "M3"]})
        >>> pair_labels(pairs, pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M1"]})).tolist()
        [1.0, 0.0, 0.0]
        >>> decided = pd.DataFrame({"resident_id": ["R1", "R2"], "missing_id": ["M2", "M3"],
        ...                         "decision": ["not_same", "unsure"]})
        >>> pair_labels(pairs, decided).tolist()
        [nan, 0.0, nan]
    """
    missing_columns = [c for c in ("resident_id", "missing_id") if c not in labels.columns]
    if missing_columns:
        raise InputError(f"labels need the columns resident_id and missing_id (missing: {missing_columns}); pass "
                         f"the simulator's truth (sim.truth) or the store's decisions (store.current_decisions())")
    keys = pd.MultiIndex.from_arrays([pairs["resident_id"].astype(str), pairs["missing_id"].astype(str)])
    known = pd.MultiIndex.from_arrays([labels["resident_id"].astype(str), labels["missing_id"].astype(str)])
    if "decision" in labels.columns:
        value = labels["decision"].map({"same": 1.0, "not_same": 0.0}).to_numpy(dtype=float)
        lookup = pd.Series(value, index=known)
        lookup = lookup[~lookup.index.duplicated(keep="last")]
        return pd.Series(lookup.reindex(keys).to_numpy(), index=pairs.index, name="label")
    return pd.Series(keys.isin(known).astype(float), index=pairs.index, name="label")


def threshold_table(probability: Any, label: Any, thresholds: Sequence[float] | None = None,
                    n_groups: int | None = None) -> pd.DataFrame:
    """Per threshold: pairs at or above it, true and false leads among them, precision, recall
    (of the labelled true pairs) and, with ``n_groups`` (residents reviewed), false leads per
    resident: the load a threshold puts on reviewers. Unlabelled pairs (NaN) are left out.

        >>> threshold_table([0.9, 0.8, 0.2], [1, 0, 1], thresholds=[0.5])[["precision", "recall"]].values.tolist()
        [[0.5, 0.5]]
    """
    probability = np.asarray(probability, dtype=float)
    label = np.asarray(label, dtype=float)
    keep = ~np.isnan(label) & ~np.isnan(probability)
    probability, label = probability[keep], label[keep]
    thresholds = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, dtype=float)
    n_true = label.sum()
    above = probability[None, :] >= thresholds[:, None]
    true_leads = (above & (label[None, :] == 1)).sum(axis=1)
    false_leads = (above & (label[None, :] == 0)).sum(axis=1)
    flagged = true_leads + false_leads
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({"threshold": thresholds, "flagged": flagged, "true_leads": true_leads,
                              "false_leads": false_leads,
                              "precision": np.where(flagged > 0, true_leads / np.maximum(flagged, 1), np.nan),
                              "recall": true_leads / n_true if n_true else np.full(len(thresholds), np.nan)})
    if n_groups:
        table["false_leads_per_resident"] = table["false_leads"] / n_groups
    return table


# ---------------------------------------------------------------------------------------------
# the model


def model_weights(model, comparisons: Sequence[str] | None = None):
    """Left: the weight (log2 m/u) of every level of every comparison, one bar each, green where
    it counts for a match and red against; levels an ordered comparison pooled to one weight are
    drawn once, labelled with both names and :data:`POOLED_NOTE`. Right: m (among true pairs) and
    u (among random pairs) of the same levels.

    ``model``: a fitted :class:`~kinmatch.match.model.FellegiSunter` (or anything with its
    ``parameter_table()``); ``comparisons``: which to draw (default all)."""
    table = _parameter_rows(model, comparisons)
    with _style():
        figure, axes = _figure(10, max(3.0, 0.22 * len(table) + 1.2), ncols=2, sharey=True,
                               gridspec_kw={"width_ratios": [3, 2]})
        left, right = axes[0]
        y = np.arange(len(table))[::-1]
        colours = np.where(table["weight"] >= 0, TRUE_COLOUR, FALSE_COLOUR)
        left.barh(y, table["weight"], color=colours)
        left.axvline(0, color="black", linewidth=0.6)
        left.set_yticks(y, table["display"])
        left.set_xlabel("权重（log2 m/u，比特）")
        left.set_title("各比对级别的权重")
        for yy, weight, pooled in zip(y, table["weight"], table["pooled"]):
            left.annotate(f"{weight:+.1f}" + (" *" if pooled else ""), (weight, yy), fontsize=7, va="center",
                          ha="left" if weight >= 0 else "right", xytext=(3 if weight >= 0 else -3, 0),
                          textcoords="offset points")
        height = 0.4
        right.barh(y + height / 2, table["m"], height=height, color=TRUE_COLOUR, label="m（同一人中）")
        right.barh(y - height / 2, table["u"], height=height, color="#adb5bd", label="u（随机配对中）")
        right.set_xlabel("概率")
        right.set_title("m 与 u")
        right.legend(loc="lower right", fontsize=7)
        if table["pooled"].any():
            figure.supxlabel("* " + POOLED_NOTE, fontsize=7)
        figure.suptitle("模型参数")
    return figure


def _parameter_rows(model, comparisons: Sequence[str] | None) -> pd.DataFrame:
    """The parameter table, levels pooled to one weight merged (:func:`pooled_levels`)."""
    from kinmatch.match.model.fellegi_sunter import pooled_levels

    if not hasattr(model, "parameter_table"):
        raise InputError(f"model_weights needs a fitted FellegiSunter model (kinmatch.link_run(...).model or "
                         f"FellegiSunter.from_json(path)), not {type(model).__name__}")
    table = model.parameter_table()
    if comparisons is not None:
        unknown = sorted(set(comparisons) - set(table["comparison"]))
        if unknown:
            raise InputError(f"the model has no comparison(s) {unknown}; it has {sorted(set(table['comparison']))}")
        table = table[table["comparison"].isin(list(comparisons))]
    return pooled_levels(table).rename(columns={"label": "display"})


# ---------------------------------------------------------------------------------------------
# scores


def match_weight_distribution(candidates: pd.DataFrame, labels: pd.DataFrame | None = None, bins: int = 40):
    """Histogram of the candidates' ``match_weight``; with ``labels`` (decisions or truth) the true
    and false pairs are drawn apart (unlabelled pairs are left out) and counted in the legend."""
    if "match_weight" not in candidates.columns:
        raise InputError("the candidates have no match_weight column; pass the table kinmatch.link returned")
    weights = candidates["match_weight"].to_numpy(dtype=float)
    with _style():
        figure, axes = _figure(7, 3.6)
        ax = axes[0][0]
        edges = np.histogram_bin_edges(weights[np.isfinite(weights)], bins=bins) if len(weights) else bins
        if labels is None:
            ax.hist(weights, bins=edges, color=NEUTRAL, label=f"全部候选（{len(weights)}）")
        else:
            label = pair_labels(candidates, labels).to_numpy()
            for value, colour, name in ((0.0, FALSE_COLOUR, "非同一人"), (1.0, TRUE_COLOUR, "同一人")):
                chosen = weights[label == value]
                ax.hist(chosen, bins=edges, color=colour, alpha=0.6, label=f"{name}（{len(chosen)}）")
        ax.set_xlabel("匹配权重（比特）")
        ax.set_ylabel("候选对数")
        ax.set_title("匹配权重分布")
        ax.legend(fontsize=8)
    return figure


def waterfall(weights: Mapping[str, float] | pd.Series, prior_weight: float, title: str | None = None):
    """How one pair's match weight adds up: the prior, then each comparison's partial weight (green
    for, red against; comparisons with no evidence left out), then the total and its probability.

    ``weights``: ``{label: partial weight}`` in the order to draw (e.g. ``score_pair(...).table``'s
    ``reason`` and ``weight``, or a candidates row's ``w_`` columns)."""
    items = [(str(k), float(v)) for k, v in dict(weights).items() if np.isfinite(v)]
    total = prior_weight + sum(v for _, v in items)
    probability = 1.0 / (1.0 + 2.0 ** -total)
    with _style():
        figure, axes = _figure(7, max(3.0, 0.32 * (len(items) + 2) + 1.0))
        ax = axes[0][0]
        names = ["先验"] + [k for k, _ in items] + ["合计"]
        starts, lengths, colours = [0.0], [prior_weight], ["#868e96"]
        running = prior_weight
        for _, value in items:
            starts.append(running)
            lengths.append(value)
            colours.append(TRUE_COLOUR if value >= 0 else FALSE_COLOUR)
            running += value
        starts.append(0.0)
        lengths.append(total)
        colours.append(NEUTRAL)
        y = np.arange(len(names))[::-1]
        ax.barh(y, lengths, left=starts, color=colours)
        for yy, start, length in zip(y, starts, lengths):
            end = start + length
            ax.annotate(f"{length:+.1f}", (max(start, end), yy), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=7)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_yticks(y, names)
        ax.set_xlabel("匹配权重（比特）")
        ax.set_title(title or f"单对比对的权重累加：合计 {total:+.1f}，匹配概率 {probability:.1%}")
    return figure


def threshold_curves(candidates: pd.DataFrame, labels: pd.DataFrame, thresholds: Sequence[float] | None = None):
    """Precision and recall (left axis) and false leads per resident (right axis) against the
    probability threshold, from reviewers' decisions or the simulator's truth: what a threshold
    would find and what it would cost reviewers. Recall is of the true pairs among the candidates
    (a true pair the passes missed cannot be found by any threshold)."""
    label = pair_labels(candidates, labels)
    if not (label == 1).any() or not (label == 0).any():
        raise InputError(f"threshold curves need true and false pairs among the candidates; the labels mark "
                         f"{int((label == 1).sum())} true and {int((label == 0).sum())} false — review more "
                         f"pairs (or pass the simulator's truth)")
    labelled = candidates[label.notna()]
    table = threshold_table(candidates["match_probability"], label, thresholds,
                            n_groups=labelled["resident_id"].nunique())
    with _style():
        figure, axes = _figure(7, 3.8)
        ax = axes[0][0]
        ax.plot(table["threshold"], table["precision"], color=TRUE_COLOUR, label="精确率")
        ax.plot(table["threshold"], table["recall"], color=NEUTRAL, label="召回率")
        ax.set_xlabel("匹配概率阈值")
        ax.set_ylabel("精确率 / 召回率")
        ax.set_ylim(0, 1.02)
        load = ax.twinx()
        load.spines["right"].set_visible(True)
        load.plot(table["threshold"], table["false_leads_per_resident"], color=FALSE_COLOUR, linestyle="--",
                  label="每人误报线索数")
        load.set_ylabel("每名受助人员的误报线索数")
        lines = ax.get_lines() + load.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="center right")
        ax.set_title("阈值与精确率、召回率、误报负担")
    return figure


# ---------------------------------------------------------------------------------------------
# the candidate passes and the records


def pass_counts(counts: pd.DataFrame):
    """Pairs each candidate pass proposed and kept (after its constraints and cap), and the union
    of all passes (what the comparisons scored)."""
    missing_columns = [c for c in ("pass", "proposed", "kept") if c not in counts.columns]
    if missing_columns:
        raise InputError(f"pass counts need the columns pass, proposed, kept (missing: {missing_columns}); pass "
                         f"link_run(...).pass_counts")
    with _style():
        figure, axes = _figure(7, max(2.5, 0.3 * len(counts) + 1.2))
        ax = axes[0][0]
        y = np.arange(len(counts))[::-1]
        names = [f"{PASS_TITLES.get(p, p)}（{p}）" for p in counts["pass"]]
        ax.barh(y + 0.2, counts["proposed"], height=0.4, color="#adb5bd", label="提出")
        ax.barh(y - 0.2, counts["kept"], height=0.4, color=NEUTRAL, label="保留")
        ax.set_yticks(y, names)
        ax.set_xlabel("候选对数")
        ax.set_title("各候选筛选规则的候选对数")
        ax.legend(fontsize=8)
    return figure


COMPLETENESS_FIELDS = (("姓名", ("name_norm",)), ("性别", ("sex_code",)), ("年龄", ("birth_year_low", "age_low")),
                       ("身高", ("height_cm",)), ("入站/走失日期", ("event_date",)),
                       ("发现/走失地点", ("found_county", "found_province", "missing_county", "missing_province")),
                       ("户籍地/家乡", ("home_county", "home_province")),
                       ("口音", ("accent_provinces", "accent_area")), ("自述地名", ("statement_places",)),
                       ("体貌特征", ("marks",)), ("健康状况", ("conditions",)))
"""(field title, normalized columns any of which holds the field) for :func:`field_completeness`."""


def _filled(values: pd.Series) -> np.ndarray:
    def one(value) -> bool:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
            return False
        if isinstance(value, (tuple, list, str)):
            return len(value) > 0
        return not pd.isna(value)

    return np.fromiter((one(v) for v in values), dtype=bool, count=len(values))


def completeness_table(records: pd.DataFrame) -> pd.Series:
    """Share of ``records`` (a normalized frame) that hold each field of :data:`COMPLETENESS_FIELDS`
    (fields none of whose columns the frame has are left out).

        >>> completeness_table(pd.DataFrame({"name_norm": ["李伟", None], "height_cm": [170.0, 160.0]})).tolist()
        [0.5, 1.0]
    """
    shares = {}
    for title, columns in COMPLETENESS_FIELDS:
        present = [c for c in columns if c in records.columns]
        if not present:
            continue
        filled = np.zeros(len(records), dtype=bool)
        for column in present:
            filled |= _filled(records[column])
        shares[title] = float(filled.mean()) if len(records) else 0.0
    return pd.Series(shares, name="share")


def field_completeness(residents: pd.DataFrame, missing: pd.DataFrame | None = None):
    """Left: the share of residents (and reports, when given) holding each field. Right: how many
    residents have each identification potential (1 almost no usable evidence … 5 name, age,
    height, marks and place clues), so staff see which records to enrich first."""
    from kinmatch.match.rank import identification_potential

    resident_share = completeness_table(residents)
    with _style():
        figure, axes = _figure(10, 3.8, ncols=2, gridspec_kw={"width_ratios": [3, 2]})
        left, right = axes[0]
        y = np.arange(len(resident_share))[::-1]
        if missing is not None:
            report_share = completeness_table(missing).reindex(resident_share.index)
            left.barh(y + 0.2, resident_share.to_numpy(), height=0.4, color=NEUTRAL, label="受助人员")
            left.barh(y - 0.2, report_share.to_numpy(), height=0.4, color="#f59f00", label="寻人启事")
            left.legend(fontsize=8, loc="lower right")
        else:
            left.barh(y, resident_share.to_numpy(), color=NEUTRAL)
        left.set_yticks(y, resident_share.index)
        left.set_xlim(0, 1)
        left.set_xlabel("有此项的记录占比")
        left.set_title("字段完整度")
        potential = identification_potential(residents).value_counts().reindex(range(1, 6), fill_value=0)
        right.bar(potential.index, potential.to_numpy(), color=NEUTRAL)
        right.set_xticks(range(1, 6))
        right.set_xlabel("可识别潜力（1–5）")
        right.set_ylabel("受助人员数")
        right.set_title("可识别潜力")
    return figure
