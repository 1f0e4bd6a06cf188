"""Simulate station residents and missing-person reports with known truth.

    >>> from kinmatch.datasets import simulate
    >>> sim = simulate(n_missing=300, n_residents=40, seed=7)
    >>> len(sim.missing), len(sim.residents)
    (300, 40)
    >>> set(sim.truth["resident_id"]) <= set(sim.residents["resident_id"])
    True

People are drawn first (sex, birth date, home county, name, height, marks, conditions); each
reported person gets 1–3 reports from different sources, each worded a little differently (date
and height formats, mark wordings, a birth year one off, a day lost remembered a little earlier,
age given as 虚岁).
Some reported people are in a station's care: their resident record is written by staff and
garbled the way DOMAIN.md documents (names by sound and by dialect, partial and assigned names,
estimated ages, reworded or mirrored marks, place fragments, old place names, wrong accents).
Build and hair are the person's at loss in every report; in the resident record they drift with
the years until found (thinner, greyer, another observer's word) and either may be left out of
any record (:mod:`kinmatch.datasets.drift` gives the rates and why).
Every garbling is logged in ``distortions``. A share of residents has no report at all.

Reports are generated column by column with numpy (a million in about a minute); residents,
which are few, one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kinmatch.datasets.config import (  # noqa: F401  (re-exported: the simulator's settings)
    CONFIGURATIONS,
    DEFAULT_RATES,
    MISSING_COLUMNS,
    NAME_MODES,
    RATE_BASE,
    REFERENCE_DATE,
    RESIDENT_COLUMNS,
    SILENT_CLUE_FACTOR,
)
from kinmatch.datasets.drift import drift_rng
from kinmatch.datasets.people import draw_people, people_frame
from kinmatch.datasets.reports import draw_reports
from kinmatch.datasets.residents import draw_residents
from kinmatch.errors import InputError


@dataclass
class Simulation:
    """Simulated residents and reports with the truth linking them.

    ``residents`` and ``missing`` are canonical frames as :func:`kinmatch.read_residents` returns
    them (raw Chinese text); ``truth`` pairs ``resident_id, missing_id``; ``distortions`` logs
    ``resident_id, family, detail``; ``people`` holds each simulated person's true identity, with
    build and hair as at loss and the true missing and found dates (for evaluation and
    debugging, never an input to matching).
    """

    residents: pd.DataFrame
    missing: pd.DataFrame
    truth: pd.DataFrame
    distortions: pd.DataFrame
    people: pd.DataFrame = field(repr=False)
    seed: int = 0
    rates: dict = field(default_factory=dict, repr=False)

    def __iter__(self):
        # so ``residents, missing, truth, distortions = simulate(...)`` works
        return iter((self.residents, self.missing, self.truth, self.distortions))

    def summary(self) -> pd.DataFrame:
        """Residents per distortion family, their share of all residents, the configured rate and
        which residents that rate applies to (families without a rate follow from other draws).

        >>> simulate(n_missing=200, n_residents=20, seed=1).summary().columns.tolist()
        ['residents', 'share', 'configured_rate', 'rate_applies_to']
        """
        counts = self.family_counts()
        rates = {**(self.rates.get("name_modes") or NAME_MODES),
                 **{k: v for k, v in self.rates.items() if isinstance(v, float)}}
        return pd.DataFrame({
            "residents": counts,
            "share": (counts / max(len(self.residents), 1)).round(3),
            "configured_rate": [rates.get(family) for family in counts.index],
            "rate_applies_to": [RATE_BASE.get(family) for family in counts.index],
        })

    def family_counts(self) -> pd.Series:
        """Number of residents per distortion family."""
        return self.distortions.groupby("family")["resident_id"].nunique().sort_values(ascending=False)

    def __repr__(self) -> str:
        linked = self.truth["resident_id"].nunique()
        top = ", ".join(f"{k} {v}" for k, v in self.family_counts().head(6).items())
        return (f"Simulation(seed={self.seed}: {len(self.residents):,} residents "
                f"({linked:,} with a report), {len(self.missing):,} missing reports, "
                f"{len(self.truth):,} truth pairs, {len(self.distortions):,} distortions: {top}, ...)")

    def _repr_html_(self) -> str:
        return (f"<p><b>Simulation</b> seed={self.seed}: {len(self.residents):,} residents, "
                f"{len(self.missing):,} missing reports, {len(self.truth):,} truth pairs</p>"
                f"<details><summary>distortions by family</summary>{self.summary().to_html()}</details>")


_SEX_STREAM = 0x73657821  # "sex!": a fixed spawn key, so the stream depends on the seed alone


def misrecord_sex(residents: pd.DataFrame, log, rates: dict, seed) -> None:
    """Swap the recorded sex of a share ``rates["sex_misrecorded"]`` of residents (a clerk's slip,
    long hair on a man), logged as ``sex_misrecorded``. Draws from its own stream, so the rest of a
    seed's simulation is unchanged."""
    rate = rates.get("sex_misrecorded", 0.0)
    if not rate or len(residents) == 0:
        return
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SEX_STREAM,)))
    chosen = np.flatnonzero((rng.random(len(residents)) < rate) & residents["sex"].isin(["男", "女"]).to_numpy())
    column = residents.columns.get_loc("sex")
    for position in chosen.tolist():
        recorded = residents.iat[position, column]
        swapped = "女" if recorded == "男" else "男"
        residents.iat[position, column] = swapped
        log.add(residents["resident_id"].iat[position], "sex_misrecorded", f"{recorded}→{swapped}")


_AGE_CELL_STREAM = 0x61676521  # "age!"
_AGE_IN_BIRTH_DATE = ("走失时约{}岁", "约{}岁(走失时)", "走失时{}岁左右")


def age_in_birth_date(reports: pd.DataFrame, report_person: np.ndarray, rates: dict, seed) -> np.ndarray:
    """Move the age of a share ``rates["age_in_birth_date"]`` of the reports that give only an age
    into their birth-date cell, as families write it there (走失时约75岁, 约40岁(走失时)); the age
    cell is left blank. Returns the persons of the reports changed. Draws from its own stream, so
    the rest of a seed's simulation is unchanged."""
    rate = rates.get("age_in_birth_date", 0.0)
    if not rate or len(reports) == 0:
        return np.zeros(0, np.int64)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_AGE_CELL_STREAM,)))
    age_only = reports["birth_date"].isna().to_numpy() & reports["age"].notna().to_numpy()
    chosen = np.flatnonzero(age_only & (rng.random(len(reports)) < rate))
    years = reports["age"].iloc[chosen].str.extract(r"(\d+)", expand=False).to_numpy(dtype=object)
    wording = rng.integers(len(_AGE_IN_BIRTH_DATE), size=len(chosen))
    birth, age = reports.columns.get_loc("birth_date"), reports.columns.get_loc("age")
    for position, year, style in zip(chosen.tolist(), years, wording.tolist(), strict=True):
        reports.iat[position, birth] = _AGE_IN_BIRTH_DATE[style].format(year)
        reports.iat[position, age] = None
    return report_person[chosen]



def reports_per_person(n_missing: int, rates: dict, rng: np.random.Generator) -> np.ndarray:
    """How many reports each reported person has (1–3, drawn by ``rates["multiple_reports"]``),
    cut so they sum to exactly ``n_missing``: :func:`simulate`'s first draw from ``rng``, so a
    fresh generator of a simulation's seed tells which person each of its reports is about
    (reports come person by person, in file order)."""
    per_person = np.asarray(rates["multiple_reports"], dtype=float)
    est = int(n_missing / (per_person @ np.arange(1, len(per_person) + 1))) + 64
    counts = rng.choice(np.arange(1, len(per_person) + 1), size=est, p=per_person / per_person.sum())
    while counts.sum() < n_missing:
        counts = np.r_[counts, counts]
    cum = np.cumsum(counts)
    n_reported = int(np.searchsorted(cum, n_missing) + 1) if n_missing else 0
    counts = counts[:n_reported].copy()
    if n_reported:
        counts[-1] -= cum[n_reported - 1] - n_missing
    return counts

def simulate(n_missing: int = 10_000, n_residents: int = 1_000, seed: int = 0,
             rates: dict | None = None, configuration: str = "default") -> Simulation:
    """Simulate ``n_residents`` station residents and ``n_missing`` missing-person reports.

    Deterministic per ``seed``. ``configuration`` names an entry of :data:`CONFIGURATIONS` (another
    mix of distortions and regions; ``"default"`` changes nothing); ``rates`` overrides entries of
    :data:`DEFAULT_RATES` and of the configuration. Each
    reported person has 1–3 reports, so there are about ``n_missing / 1.5`` reported people; when
    that is fewer than the residents who should have a report, all of them are residents and the
    rest of the residents have none.

    >>> sim = simulate(n_missing=200, n_residents=20, seed=1)
    >>> sim.residents.attrs["kind"], sim.missing.attrs["kind"]
    ('resident', 'missing')
    >>> sorted(sim.distortions.columns)
    ['detail', 'family', 'resident_id']
    """
    if n_missing < 0 or n_residents < 0:
        raise InputError(f"n_missing and n_residents must be >= 0, got {n_missing} and {n_residents}; "
                         "pass the number of reports and of residents to simulate")
    if configuration not in CONFIGURATIONS:
        raise InputError(f"configuration {configuration!r} is not one of {sorted(CONFIGURATIONS)}; "
                         "name one of those, or pass rates={...} to change single rates")
    rates = {**DEFAULT_RATES, **CONFIGURATIONS[configuration], **(rates or {})}
    rng = np.random.default_rng(seed)

    counts = reports_per_person(n_missing, rates, rng)
    n_reported = len(counts)

    n_with = min(int(round(n_residents * (1 - rates["no_report"]))), n_reported)
    n_without = n_residents - n_with
    people = draw_people(rng, n_reported + n_without, rates)
    with_report = rng.choice(n_reported, size=n_with, replace=False) if n_with else np.array([], dtype=np.int64)

    # same-name confusers: other reported people who happen to share a resident's true name
    confuser_log = []
    others = np.setdiff1d(np.arange(n_reported), with_report)
    if len(others) and n_with:
        picked = with_report[rng.random(n_with) < rates["same_name_confuser"]]
        victims = rng.choice(others, size=min(len(others), 2 * len(picked)), replace=False)
        for j, p in enumerate(picked):
            targets = victims[2 * j: 2 * j + int(rng.integers(1, 3))]
            for t in targets:
                for key in ("name", "surname", "given", "minority", "male"):
                    people[key][t] = people[key][p]
                people["alias"][t] = None
            if len(targets):
                confuser_log.append((int(p), len(targets)))

    # build and hair drift draw from their own stream: the rest of a seed's simulation is unchanged
    description_rng = drift_rng(seed)
    report_frame, report_info = draw_reports(rng, people, counts, rates, description_rng)
    resident_persons = np.r_[with_report, np.arange(n_reported, n_reported + n_without)].astype(np.int64)
    has_report = np.r_[np.ones(n_with, bool), np.zeros(n_without, bool)]
    order = rng.permutation(n_residents)
    resident_persons, has_report = resident_persons[order], has_report[order]
    residents, log, found = draw_residents(rng, rates, people, resident_persons, has_report, report_info,
                                           description_rng)

    misrecord_sex(residents, log, rates, seed)
    moved = age_in_birth_date(report_frame, report_info["person"], rates, seed)
    rid_of_person = dict(zip(resident_persons.tolist(), residents["resident_id"]))
    for p in dict.fromkeys(moved.tolist()):
        if p in rid_of_person:
            log.add(rid_of_person[p], "age_in_birth_date", "")
    for p, count in confuser_log:
        log.add(rid_of_person[p], "same_name_confuser", str(count))

    report_person = report_info["person"]
    is_resident = np.isin(report_person, with_report)
    truth = pd.DataFrame({
        "resident_id": [rid_of_person[int(p)] for p in report_person[is_resident]],
        "missing_id": report_frame["missing_id"].to_numpy()[is_resident],
    }).sort_values(["resident_id", "missing_id"], ignore_index=True)
    distortions = pd.DataFrame(log.rows, columns=["resident_id", "family", "detail"])
    distortions = distortions.sort_values(["resident_id", "family"], kind="stable", ignore_index=True)
    true_people = people_frame(people, resident_persons, residents, found)
    return Simulation(residents, report_frame, truth, distortions, true_people, seed, rates)
