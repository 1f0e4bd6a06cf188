"""The run in hand: :func:`link_run` returns a :class:`LinkResult` holding everything a linking run
made (candidates, fitted model, comparison levels, pass counts, settings, normalized records), with
the analyst's views of it; :func:`score_pair` explains any pair, not only the top K.

    >>> import kinmatch                                                         # doctest: +SKIP
    >>> result = kinmatch.link_run(residents, missing, top_k=10, progress=False)  # doctest: +SKIP
    >>> result.candidates.head()          # the table kinmatch.link returns      # doctest: +SKIP
    >>> result.model                      # the fitted model, a readable table   # doctest: +SKIP
    >>> result.show("R000001")            # one resident beside its candidates   # doctest: +SKIP
    >>> result.score_pair("R000001", "M000042")   # any pair, every comparison   # doctest: +SKIP
    >>> result.plot_model()               # charts: see kinmatch.charts          # doctest: +SKIP

``kinmatch.link`` stays the short way to the candidates table; ``link_run`` is the same run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.match import engine
from kinmatch.match.explain import explain_pairs
from kinmatch.match.pipeline import LinkRun, prepare_records, run_link, score
from kinmatch.match.settings import LinkSettings, resolve_settings

__all__ = ["LinkResult", "PairScore", "link_run", "score_pair"]

PAIR_COLUMNS = ["comparison", "title", "level", "label", "weight", "reason"]


class PairScore(NamedTuple):
    """One pair explained: ``table`` (one row per comparison: ``comparison``, ``title``,
    ``level`` (-1: no evidence), ``label``, partial ``weight`` in bits and the ``reason`` as the
    comparison writes it), the model's ``prior_weight``, the pair's ``match_weight`` (prior plus
    the partial weights) and ``match_probability``, and the ``explanation`` text of the linking
    table. ``plot()`` draws its waterfall."""

    resident_id: str
    missing_id: str
    table: pd.DataFrame
    prior_weight: float
    match_weight: float
    match_probability: float
    explanation: str

    def plot(self):
        """The waterfall of this pair (:func:`kinmatch.charts.waterfall`)."""
        from kinmatch.charts import waterfall

        shown = self.table[self.table["level"] >= 0]
        return waterfall(dict(zip(shown["reason"], shown["weight"])), self.prior_weight,
                         title=f"{self.resident_id} × {self.missing_id}：合计 {self.match_weight:+.1f}，"
                               f"匹配概率 {self.match_probability:.1%}")

    def _repr_html_(self) -> str:
        head = (f"<p><b>{self.resident_id} × {self.missing_id}</b>: 匹配权重 {self.match_weight:+.2f}"
                f"（先验 {self.prior_weight:+.2f}），匹配概率 {self.match_probability:.1%}</p>")
        return head + self.table.to_html(index=False, float_format=lambda v: f"{v:+.2f}")

    def __repr__(self) -> str:
        return (f"PairScore {self.resident_id} × {self.missing_id}: match_weight {self.match_weight:+.2f} "
                f"(prior {self.prior_weight:+.2f}), probability {self.match_probability:.1%}\n"
                + self.table.to_string(index=False))


def _score_positions(encoded: engine.Encoded, lp: np.ndarray, rp: np.ndarray, model: Any,
                     settings: LinkSettings, clusters: Any = None) -> list[PairScore]:
    """The :class:`PairScore` of the pairs at record positions ``lp``/``rp``: the engine's levels,
    the pipeline's scoring (term frequencies included) and the comparisons' own reasons, so the
    numbers are those the linking table would show for the pair. With ``clusters`` (the run's
    duplicate reports) a report in a cluster is scored with the union of its cluster's evidence,
    as the table scores the row that stands for the cluster
    (:func:`~kinmatch.match.dedupe.fill_from_members`)."""
    if model is None:
        raise InputError("scoring a pair needs a fitted model; this run fitted none (no candidate pairs) — "
                         "pass model= (a FellegiSunter or the JSON kinmatch link --save-model wrote)")
    columns = engine.compare_positions(encoded, lp, rp)
    vectors = pd.DataFrame(columns)
    sources = np.repeat(np.asarray(rp)[:, None], len(encoded.comparisons), axis=1)
    if clusters is not None:
        from kinmatch.match.dedupe import fill_from_members

        vectors, sources = fill_from_members(encoded, clusters, lp, rp, vectors)
    weights, match_weight, probability = score(model, vectors, settings)
    levels = vectors[settings.names].to_numpy()
    weight_matrix = weights.to_numpy()
    explanations = explain_pairs(encoded, lp, sources, levels, weight_matrix)
    reasons = {}
    for j, (comparison, encoding) in enumerate(zip(encoded.comparisons, encoded.encodings)):
        reasons[comparison.name] = comparison.reasons(encoding, lp, sources[:, j], levels[:, j].astype(np.int64))
    prior = float(getattr(model, "prior_weight_", np.nan))
    out = []
    for i in range(len(lp)):
        table = pd.DataFrame({
            "comparison": settings.names,
            "title": [c.title for c in settings.comparisons],
            "level": levels[i].astype(int),
            "label": [c.labels.get(int(level), str(level)) for c, level in zip(settings.comparisons, levels[i])],
            "weight": weight_matrix[i],
            "reason": [str(reasons[c.name][i]) for c in settings.comparisons],
        }, columns=PAIR_COLUMNS)
        out.append(PairScore(str(encoded.resident_ids[lp[i]]), str(encoded.report_ids[rp[i]]), table, prior,
                             float(match_weight[i]), float(probability[i]), explanations[i]))
    return out


def _one_record(record: Any, kind: str) -> pd.DataFrame:
    id_column = "resident_id" if kind == "resident" else "missing_id"
    if isinstance(record, pd.DataFrame):
        if len(record) != 1:
            raise InputError(f"score_pair takes one {kind} record, not a frame of {len(record)} rows; pick the row "
                             f"(frame.iloc[[i]]) or use LinkResult.score_pair with ids")
        frame = record.reset_index(drop=True)
    elif isinstance(record, (Mapping, pd.Series)):
        frame = pd.DataFrame([dict(record)])
    else:
        raise InputError(f"a {kind} record must be a dict, a Series or a one-row DataFrame, not "
                         f"{type(record).__name__}")
    if id_column not in frame.columns or pd.isna(frame[id_column].iloc[0]):
        frame[id_column] = "R" if kind == "resident" else "M"
    return frame


def score_pair(resident: Any, report: Any, model: Any, settings: LinkSettings | None = None) -> PairScore:
    """Explain one resident × report pair with ``model``, every comparison shown, whether or not the
    pair was among anyone's top K.

    ``resident`` / ``report``: one record each (a dict, a Series or a one-row frame; canonical, as
    ``kinmatch.read_residents`` gives, or normalized). ``model``: a fitted model, e.g.
    ``link_run(...).model`` or ``FellegiSunter.from_json(path)``; ``settings``: the run's (default:
    the defaults). Comparisons that weigh a value by its rarity among the reports (marks, build)
    see only this one report here; :meth:`LinkResult.score_pair` scores within the run's records.

        >>> from kinmatch.match.model import FellegiSunter
        >>> from kinmatch.match.settings import LinkSettings
        >>> from kinmatch.match.comparisons.sex import SexComparison
        >>> model = FellegiSunter.from_parameters({"sex": [0.05, 0.95]}, {"sex": [0.5, 0.5]}, 0.01)
        >>> pair = score_pair({"name": "吴春花", "sex": "女"}, {"name": "胡春花", "sex": "女"}, model,
        ...                   LinkSettings(comparisons=[SexComparison()]))
        >>> pair.table[["comparison", "label", "weight"]].round(2).values.tolist()
        [['sex', '性别相符', 0.93]]
        >>> round(pair.match_weight, 2)
        -5.7
    """
    import os

    settings = resolve_settings(settings)
    if isinstance(model, (str, os.PathLike)):
        from kinmatch.match.model import FellegiSunter

        model = FellegiSunter.from_json(model)
    residents = prepare_records(_one_record(resident, "resident"), "resident")
    missing = prepare_records(_one_record(report, "missing"), "missing")
    encoded = engine.encode(residents, missing, settings.comparisons)
    return _score_positions(encoded, np.array([0]), np.array([0]), model, settings)[0]


class LinkResult:
    """Everything one linking run made, for an analyst in a notebook.

    Attributes: ``candidates`` (the ranked, explained table :func:`kinmatch.link` returns),
    ``model`` (the fitted model; its repr is the readable parameter table), ``comparisons`` (the
    comparison levels of every candidate pair, indexed by ``(resident_id, missing_id)``, one column
    per comparison, -1 = no evidence), ``pass_counts`` (pairs proposed, removed, capped and kept by
    each candidate pass), ``settings`` (the :class:`~kinmatch.match.settings.LinkSettings`),
    ``residents`` and ``missing`` (the normalized records), ``report_clusters`` (the duplicate
    reports found, a :class:`~kinmatch.match.dedupe.ReportClusters`; None when
    ``dedupe_reports`` is off). Views: :meth:`show`, :meth:`score_pair`,
    and the ``plot_*`` charts of :mod:`kinmatch.charts`.
    """

    def __init__(self, run: LinkRun):
        self.candidates = run.table
        self.model = run.model
        self.comparisons = run.vectors
        self.pass_counts = run.candidate_counts
        self.settings = resolve_settings(run.settings)
        self.residents = run.residents
        self.missing = run.missing
        self.report_clusters = run.report_clusters
        self._encoded: engine.Encoded | None = None

    def __repr__(self) -> str:
        n_residents = self.candidates["resident_id"].nunique() if len(self.candidates) else 0
        return (f"LinkResult: {len(self.candidates)} ranked candidates for {n_residents} of {len(self.residents)} "
                f"residents, {len(self.missing)} reports, {len(self.comparisons)} pairs compared, "
                f"{len(self.settings.comparisons)} comparisons")

    def _repr_html_(self) -> str:
        from kinmatch.match.display import CandidateList

        return f"<p>{repr(self)}</p>" + CandidateList(self.candidates, max_rows=20)._repr_html_()

    # ---- one resident, one pair -----------------------------------------------------------

    def show(self, resident_id: str, top: int = 5):
        """One resident beside its ``top`` candidates, agreeing fields green and conflicts red
        (:func:`kinmatch.match.display.show_candidates` on this run's records and settings)."""
        from kinmatch.match.display import show_candidates

        return show_candidates(self.candidates, self.residents, self.missing, resident_id, top=top,
                               settings=self.settings)

    def score_pair(self, resident_id: str, missing_id: str) -> PairScore:
        """Explain any resident × report pair of this run with its model (every comparison, also
        for pairs no candidate pass proposed), scored exactly as the linking table scores: a
        report with duplicates with the union of its cluster's evidence, where it says nothing
        itself."""
        if self._encoded is None:
            self._encoded = engine.encode(self.residents, self.missing, self.settings.comparisons)
        pairs = pd.DataFrame({"resident_id": [str(resident_id)], "missing_id": [str(missing_id)]})
        known_r = self._encoded.resident_ids.get_indexer(pairs["resident_id"])[0]
        known_m = self._encoded.report_ids.get_indexer(pairs["missing_id"])[0]
        if known_r < 0 or known_m < 0:
            absent = f"resident {resident_id!r}" if known_r < 0 else f"report {missing_id!r}"
            raise InputError(f"{absent} is not among this run's records; check the id (ids are text, e.g. "
                             f"'R000001')")
        return _score_positions(self._encoded, np.array([known_r]), np.array([known_m]), self.model, self.settings,
                                self.report_clusters)[0]

    # ---- charts ---------------------------------------------------------------------------

    def plot_model(self, comparisons=None):
        """m, u and weight of every comparison level (:func:`kinmatch.charts.model_weights`)."""
        from kinmatch.charts import model_weights

        return model_weights(self.model, comparisons)

    def plot_weights(self, labels: pd.DataFrame | None = None):
        """The candidates' match weights, true and false apart when ``labels`` (the simulator's
        truth or the store's decisions) are given (:func:`kinmatch.charts.match_weight_distribution`)."""
        from kinmatch.charts import match_weight_distribution

        return match_weight_distribution(self.candidates, labels)

    def plot_waterfall(self, resident_id: str, missing_id: str):
        """How one pair's weight adds up (:func:`kinmatch.charts.waterfall`)."""
        return self.score_pair(resident_id, missing_id).plot()

    def plot_threshold(self, labels: pd.DataFrame):
        """Precision, recall and false leads per resident against the probability threshold
        (:func:`kinmatch.charts.threshold_curves`)."""
        from kinmatch.charts import threshold_curves

        return threshold_curves(self.candidates, labels)

    def plot_passes(self):
        """Pairs proposed and kept by each candidate pass (:func:`kinmatch.charts.pass_counts`)."""
        from kinmatch.charts import pass_counts

        return pass_counts(self.pass_counts)

    def plot_completeness(self):
        """Field completeness of residents and reports and the residents' identification potential
        (:func:`kinmatch.charts.field_completeness`)."""
        from kinmatch.charts import field_completeness

        return field_completeness(self.residents, self.missing)


def link_run(residents: Any, missing: Any, top_k: int = 10, by: str = "resident", model: Any = None,
             progress: bool = True, **options: Any) -> LinkResult:
    """Link as :func:`kinmatch.link` does (same arguments) and return the whole run as a
    :class:`LinkResult`: the candidates table plus the fitted model, comparison levels, pass
    counts, settings and normalized records, with charts and pair explanations.

        >>> import kinmatch                                                              # doctest: +SKIP
        >>> result = kinmatch.link_run("residents.xlsx", "missing.csv", progress=False)  # doctest: +SKIP
        >>> result.candidates.equals(kinmatch.link("residents.xlsx", "missing.csv"))     # doctest: +SKIP
        True
    """
    return LinkResult(run_link(residents, missing, top_k=top_k, by=by, model=model, progress=progress, **options))

