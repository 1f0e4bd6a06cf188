"""LinkSettings: everything a linking run is configured with, as one object that is data.

The comparisons (each with its parameters and level labels), the candidate passes and caps, how
u is estimated, which columns adjust which weights by term frequency, and the review threshold.
It serialises to readable JSON, travels inside every saved model and every run the case store
records, and is checked when a saved model scores new data (a model fitted on other comparisons
or levels is refused, naming the difference).

    >>> settings = LinkSettings()
    >>> [c.name for c in settings.comparisons][:3]
    ['name', 'sex', 'age']
    >>> LinkSettings.from_json(settings.to_json()).to_dict() == settings.to_dict()
    True
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kinmatch.errors import InputError
from kinmatch.match.comparisons.base import Comparison

FORMAT = "kinmatch.LinkSettings"
VERSION = 1

_DEFAULT_CLASSES = (
    ("kinmatch.match.comparisons.name", "NameComparison"),
    ("kinmatch.match.comparisons.sex", "SexComparison"),
    ("kinmatch.match.comparisons.age", "AgeComparison"),
    ("kinmatch.match.comparisons.height", "HeightComparison"),
    ("kinmatch.match.comparisons.time_gap", "TimeGapComparison"),
    ("kinmatch.match.comparisons.geography", "GeographyComparison"),
    ("kinmatch.match.comparisons.accent", "AccentComparison"),
    ("kinmatch.match.comparisons.statement_places", "StatementPlacesComparison"),
    ("kinmatch.match.comparisons.marks", "MarksComparison"),
    ("kinmatch.match.comparisons.conditions", "ConditionsComparison"),
    ("kinmatch.match.comparisons.build", "BuildComparison"),
    ("kinmatch.match.comparisons.hair", "HairComparison"),
    ("kinmatch.match.comparisons.clothing", "ClothingComparison"),
)


def default_comparisons() -> list[Comparison]:
    """One object per comparison kinmatch ships, in output order (``w_<name>`` columns follow it)."""
    return [getattr(importlib.import_module(module), name)() for module, name in _DEFAULT_CLASSES]


def _candidate_settings_type():
    from kinmatch.match.candidates import CandidateSettings

    return CandidateSettings


@dataclass
class TermFrequency:
    """A comparison whose weight is adjusted by how common the agreeing value is.

    ``column``: the per-pair column the comparison's :meth:`~Comparison.extra` writes (share of
    reports with the value); ``levels``: the levels adjusted; ``floor_levels``: levels where the
    adjusted u never goes below the level's own u (a rare 小名 is too weak a clue to become a strong
    lead just by being rare)."""

    comparison: str
    column: str
    levels: list[int]
    floor_levels: list[int] = field(default_factory=list)


def default_term_frequencies() -> list[TermFrequency]:
    """The name: sound-key agreement (levels 4–6) priced by the rarest shared key (a shared rare
    name sound is stronger evidence than a shared 王伟); level 1 (a shared 小名 or partial name)
    priced by the key that met, only downwards; clothing agreement (levels 1–2) priced by how many
    reports would meet the resident's pieces that met (a shared 黑色裤子 and 布鞋 is weaker evidence
    than a shared 咖啡色棉袄)."""
    return [TermFrequency("name", "tf_name", [1, 4, 5, 6], [1]), TermFrequency("clothing", "tf_clothing", [2])]


@dataclass
class LinkSettings:
    """What a linking run is configured with (see the module docstring).

    ``comparisons``: comparison objects, in output order. ``candidates``: the candidate index's
    :class:`~kinmatch.match.candidates.CandidateSettings` (None: its defaults). ``n_random_pairs``,
    ``random_state``: the uniformly drawn pairs whose levels estimate u. ``u_source``: what pairs
    are scored against (see :func:`kinmatch.match.model.fit_model`). ``term_frequencies``: see
    :class:`TermFrequency`. ``review_threshold``: the probability from which a candidate counts as
    a lead (false-lead counts, the review queue's default filter). ``dedupe_reports``: cluster the
    reports that describe one person (:mod:`kinmatch.match.dedupe`) and show each cluster as one
    candidate, its best member standing for it, with ``cluster_id`` and ``cluster_members``
    columns; False (the default): every report is its own candidate and the table has no cluster
    columns. Off by default until the standing index stores its clusters (a run through the index
    would otherwise cluster all its reports again, about a minute of CPU at a million).
    ``fit_candidates``: the :class:`~kinmatch.match.candidates.CandidateSettings` whose pairs the
    model is fitted on when :func:`~kinmatch.match.pipeline.run_link` fits one; ``candidates`` are
    then only scored with it (so a wider candidate set for residents with thin evidence does not
    move the fitted weights). None (the default): the model is fitted on the scored candidates.
    ``fit_sample``: with ``fit_candidates``, those are generated for at most this many residents
    (drawn with ``random_state``), which is what the model is fitted on: m needs a few thousand
    residents, not every one, and a second candidate generation for all of them costs as much
    as the first. None: every resident. ``model_options``: options of the fitted
    :class:`~kinmatch.match.model.FellegiSunter` beyond the defaults, a mapping with any of
    ``dependence`` (None, ``"pairwise"``, ``"tree"``), ``prior`` (``"one_per_resident"``,
    ``"every_pair"``), ``posterior`` (``"pair"``, ``"person"``, ``"person_em"``) and ``m_estimate``
    (``"em"``, ``"held_out"`` or a list of comparison names); see that
    class for what each does. None (the default): the model's defaults, and the settings JSON has
    no ``model_options`` entry."""

    comparisons: list[Comparison] = field(default_factory=default_comparisons)
    candidates: Any = None
    n_random_pairs: int = 30_000
    random_state: int | None = 0
    u_source: str = "hybrid"
    term_frequencies: list[TermFrequency] = field(default_factory=default_term_frequencies)
    review_threshold: float = 0.5
    dedupe_reports: bool = False
    fit_candidates: Any = None
    fit_sample: int | None = None
    model_options: Mapping[str, Any] | None = None

    def __post_init__(self):
        names = [c.name for c in self.comparisons]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InputError(f"LinkSettings: comparison names must be unique, {duplicated} occur twice; give each "
                             f"comparison its own name (the weight columns are named w_<name>)")
        if self.fit_sample is not None and (int(self.fit_sample) != self.fit_sample or self.fit_sample < 1):
            raise InputError(f"fit_sample must be a whole number of residents, 1 or more (or None: every "
                             f"resident), not {self.fit_sample!r}")
        if self.u_source not in ("candidates", "random", "hybrid"):
            raise InputError(f"u_source must be 'candidates', 'random' or 'hybrid', not {self.u_source!r}")
        if self.model_options is not None:
            self.model_options = _checked_model_options(self.model_options)

    # -- views the rest of kinmatch reads -----------------------------------------------------------

    def comparison(self, name: str) -> Comparison:
        """The comparison called ``name``."""
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.comparisons]

    @property
    def weight_columns(self) -> list[str]:
        """The output's weight columns, ``w_<name>`` per comparison."""
        return [f"w_{c.name}" for c in self.comparisons]

    def level_labels(self) -> dict[str, dict[int, str]]:
        """Comparison → level → label (the form a model checks itself against)."""
        return {c.name: dict(c.labels) for c in self.comparisons}

    def candidate_settings(self):
        return self.candidates if self.candidates is not None else _candidate_settings_type()()

    def fit_candidate_settings(self):
        """The candidate settings the model is fitted on when they differ from the scored ones, else
        None (fit on the scored candidates)."""
        if self.fit_candidates is None:
            return None
        fit = self.fit_candidates
        if hasattr(fit, "to_dict") and fit.to_dict() == self.candidate_settings().to_dict():
            return None
        return fit

    # -- JSON -------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        candidates = self.candidate_settings()
        out = {"format": FORMAT, "version": VERSION,
               "comparisons": [c.to_dict() for c in self.comparisons],
               "candidates": candidates.to_dict() if hasattr(candidates, "to_dict") else None,
               "u_estimation": {"n_random_pairs": self.n_random_pairs, "random_state": self.random_state,
                                "u_source": self.u_source},
               "term_frequencies": [asdict(tf) for tf in self.term_frequencies],
               "review_threshold": self.review_threshold,
               "dedupe_reports": bool(self.dedupe_reports)}
        if self.fit_candidates is not None:  # absent when unset: settings saved before it read the same
            out["fit_candidates"] = self.fit_candidates.to_dict()
            out["fit_sample"] = self.fit_sample
        if self.model_options:  # absent when unset: settings and model versions saved before it read the same
            out["model_options"] = dict(self.model_options)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinkSettings:
        if data.get("format") != FORMAT:
            raise InputError(f"not kinmatch link settings (format {data.get('format')!r}, expected {FORMAT!r})")
        if int(data.get("version", 0)) > VERSION:
            raise InputError(f"these link settings were written by a newer kinmatch (version {data.get('version')}); "
                             f"upgrade kinmatch to read them")
        comparisons = [_comparison_from_dict(entry) for entry in data["comparisons"]]
        candidates = fit_candidates = None
        if data.get("candidates") is not None and hasattr(_candidate_settings_type(), "from_dict"):
            candidates = _candidate_settings_type().from_dict(data["candidates"])
        if data.get("fit_candidates") is not None:
            fit_candidates = _candidate_settings_type().from_dict(data["fit_candidates"])
        u = data.get("u_estimation", {})
        return cls(comparisons=comparisons, candidates=candidates,
                   n_random_pairs=int(u.get("n_random_pairs", 30_000)), random_state=u.get("random_state", 0),
                   u_source=u.get("u_source", "hybrid"),
                   term_frequencies=[TermFrequency(**tf) for tf in data.get("term_frequencies", [])],
                   review_threshold=float(data.get("review_threshold", 0.5)),
                   dedupe_reports=bool(data.get("dedupe_reports", False)), fit_candidates=fit_candidates,
                   fit_sample=data.get("fit_sample"), model_options=data.get("model_options"))

    @classmethod
    def from_json(cls, text: str) -> LinkSettings:
        return cls.from_dict(json.loads(text))


def _checked_model_options(options: Any) -> dict[str, Any]:
    """``options`` as a plain dict, after checking every key and value against what
    :class:`~kinmatch.match.model.FellegiSunter` accepts (so a typo fails when the settings are
    made or read, not after candidate generation)."""
    from kinmatch.match.model.fellegi_sunter import DEPENDENCE, M_ESTIMATES, POSTERIORS, PRIORS

    allowed = {"dependence": DEPENDENCE, "prior": PRIORS, "posterior": POSTERIORS, "m_estimate": M_ESTIMATES}
    if not isinstance(options, Mapping):
        raise InputError(f"model_options must be a mapping such as {{'posterior': 'person'}}, not "
                         f"{type(options).__name__}; the fitted model's options cannot be read from it")
    unknown = sorted(str(k) for k in options if k not in allowed)
    if unknown:
        raise InputError(f"model_options has unknown key(s) {unknown}, which the fitted model would not use; "
                         f"give only {sorted(allowed)}")
    for key, value in options.items():
        if key == "m_estimate" and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            continue  # the comparisons whose m is estimated held out
        if value not in allowed[key]:
            raise InputError(f"model_options[{key!r}] is {value!r}, which the model does not know; use one of "
                             f"{list(allowed[key])}")
    return dict(options)


def _comparison_from_dict(entry: Mapping[str, Any]) -> Comparison:
    module_name, _, class_name = entry["class"].rpartition(".")
    try:
        comparison_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise InputError(f"the settings name a comparison class {entry['class']!r} that cannot be imported "
                         f"({error}); install the package that defines it or remove the comparison") from None
    return comparison_class(**entry.get("params", {}))


def resolve_settings(settings: LinkSettings | Mapping | str | None,
                     comparisons: Sequence[Comparison] | None = None) -> LinkSettings:
    """``settings`` as a :class:`LinkSettings` (None: the defaults; a dict or JSON text: parsed)."""
    if settings is None:
        return LinkSettings(comparisons=list(comparisons)) if comparisons is not None else LinkSettings()
    if isinstance(settings, LinkSettings):
        return settings
    if isinstance(settings, str):
        return LinkSettings.from_json(settings)
    if isinstance(settings, Mapping):
        return LinkSettings.from_dict(settings)
    raise InputError(f"settings must be a LinkSettings, a dict or JSON text, not {type(settings).__name__}")
