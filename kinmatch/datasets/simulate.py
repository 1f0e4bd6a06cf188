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
Every garbling is logged in ``distortions``. A share of residents has no report at all.

Reports are generated column by column with numpy (a million in about a minute); residents,
which are few, one by one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kinmatch.data import load_table
from kinmatch.errors import InputError
from kinmatch.datasets import render, vocab
from kinmatch.datasets.distortions import char_pool, minority_variant, reword_clothing, traditional

REFERENCE_DATE = np.datetime64("2026-06-30", "D")
"""'Today' of the simulation: no date lies after it (fixed, so output depends only on the seed)."""

RESIDENT_COLUMNS = ["resident_id", "station", "name", "name_source", "alias", "sex", "age", "birth_date",
                    "height", "found_date", "found_place", "accent", "description", "clothing", "health",
                    "statements", "photo", "contact"]
MISSING_COLUMNS = ["missing_id", "name", "alias", "sex", "birth_date", "age", "height", "missing_date",
                   "missing_place", "hometown", "dialect", "description", "clothing", "health", "contact",
                   "source"]

NAME_MODES = {
    "name_exact": 0.28,
    "homophone": 0.10,
    "dialect_merger": 0.12,
    "name_one_char_off": 0.04,
    "partial_name": 0.10,
    "nickname": 0.05,
    "assigned_name": 0.18,
    "blank_name": 0.13,
}
"""How the name in a resident record relates to the true name (one mode per resident).

The ``dialect_merger`` rate holds among residents whose dialect area merges some sound of their
name (``CharPool.mergeable``; Northern Mandarin outside the Northeast and Jin merges none).
Fallbacks, when a mode cannot apply to a name: ``dialect_merger`` → ``homophone`` → ``name_exact``; ``nickname`` → ``partial_name``
(no 小名 known); for Uyghur names ``homophone``, ``dialect_merger`` and ``name_one_char_off``
become ``minority_variant``."""

DEFAULT_RATES = {
    "no_report": 0.25,          # residents whose person has no report at all
    "traditional": 0.04,        # self-reported names a clerk writes in traditional characters
    "age_far_off": 0.08,        # estimates 12–25 years off (one girl judged 28 was 15)
    "mark_reworded": 0.5,       # of residents with marks
    "mark_omitted": 0.25,       # of residents with marks
    "mark_mirrored": 0.15,      # of residents with a mark that has a side
    "new_mark": 0.10,           # a scar acquired while wandering
    "place_fragment": 0.35,     # statements hold a fragment of the home county or township
                                # (x SILENT_CLUE_FACTOR for residents who gave no name)
    "old_place_name": 0.05,     # statements use an abolished name (where one exists)
    "accent_contradiction": 0.12,
    "same_name_confuser": 0.10,  # residents with a report: other reported people share the name
    "near_station": 0.40,       # resident found at a station of the home province
    "found_where_lost": 0.5,    # lost in a far city (per the report): found at that city's station
    "multiple_reports": (0.6, 0.3, 0.1),  # a person has 1, 2 or 3 reports
}
"""Rates of the simulated distortions. A rate is the chance per resident (or per eligible
resident, as commented); the distortions table logs each applied distortion once, only where
it changed the record (a traditional conversion that changes no character is not logged)."""


SILENT_CLUE_FACTOR = 0.3
"""Residents with an assigned or blank name mostly cannot communicate: their chance of a place
fragment (and of any statement, and of a noted accent) is scaled down."""


@dataclass
class Simulation:
    """Simulated residents and reports with the truth linking them.

    ``residents`` and ``missing`` are canonical frames as :func:`kinmatch.read_residents` returns
    them (raw Chinese text); ``truth`` pairs ``resident_id, missing_id``; ``distortions`` logs
    ``resident_id, family, detail``; ``people`` holds each simulated person's true identity
    (for evaluation and debugging, never an input to matching).
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
        """Residents per distortion family, their share of all residents, and the configured rate.

        >>> simulate(n_missing=200, n_residents=20, seed=1).summary().columns.tolist()
        ['residents', 'share', 'configured_rate']
        """
        counts = self.family_counts()
        rates = {**NAME_MODES, **{k: v for k, v in self.rates.items() if isinstance(v, float)}}
        return pd.DataFrame({
            "residents": counts,
            "share": (counts / max(len(self.residents), 1)).round(3),
            "configured_rate": [rates.get(family) for family in counts.index],
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


# ---- reference data ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Gazetteer:
    counties: pd.DataFrame      # current counties of the 31 provinces, sorted by code
    province_keys: np.ndarray   # 2-digit province prefixes
    province_weights: np.ndarray
    county_start: np.ndarray    # per province: first row in counties, number of rows
    county_count: np.ndarray
    town_names: np.ndarray      # townships sorted by county row
    town_short: np.ndarray
    town_start: np.ndarray      # per county row
    town_count: np.ndarray
    old_names: dict             # county code -> abolished names now inside it


@functools.lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    counties = load_table("counties")
    counties = counties[(counties["status"] == "current") & counties["code"].notna()]
    counties = counties[counties["code"].str[:2].isin(list(vocab.PROVINCE_POPULATION))]
    # statistical units (示范区, 开发区 ...) are nobody's hometown in a family's words
    counties = counties[~counties["name"].str.contains("示范|开发|管理区|管委|经济|高新|园区|新区|林区", regex=True)]
    counties = counties.sort_values("code").reset_index(drop=True)
    counties["merger_area"] = counties["dialect_subarea"].fillna(counties["dialect_area"]).fillna("N_Man")
    counties["province_key"] = counties["code"].str[:2]
    counties["short_name"] = counties["short_name"].fillna(counties["name"])
    keys = np.array(sorted(counties["province_key"].unique()))
    weights = np.array([vocab.PROVINCE_POPULATION[k] for k in keys])
    starts = np.searchsorted(counties["province_key"].to_numpy(), keys, side="left")
    ends = np.searchsorted(counties["province_key"].to_numpy(), keys, side="right")
    towns = load_table("townships")
    row_of = pd.Series(np.arange(len(counties)), index=counties["code"])
    towns = towns.assign(row=towns["county_code"].map(row_of)).dropna(subset=["row", "name"])
    towns = towns.sort_values(["row", "name"], kind="stable")
    town_rows = towns["row"].to_numpy().astype(int)
    town_start = np.searchsorted(town_rows, np.arange(len(counties)), side="left")
    town_count = np.searchsorted(town_rows, np.arange(len(counties)), side="right") - town_start
    history = load_table("place_history")
    history = history[(history.get("level", "county") == "county") & history["old_name"].notna()
                      & (history["old_name"] != history["new_name"])]
    old_names: dict[str, list[str]] = {}
    for new_code, old_name in zip(history["new_code"], history["old_name"]):
        old_names.setdefault(new_code, []).append(old_name)
    return _Gazetteer(counties, keys, weights / weights.sum(), starts, ends - starts,
                      towns["name"].to_numpy(dtype=object),
                      towns["short_name"].fillna(towns["name"]).to_numpy(dtype=object),
                      town_start, town_count, {k: sorted(set(v)) for k, v in old_names.items()})


@functools.lru_cache(maxsize=1)
def _names():
    surnames = load_table("surname_freq", dtype={"weight": float})
    given = load_table("given_name_freq", dtype={"weight": float})
    pools = {}
    for (kind, sex), rows in given.groupby(["kind", "sex"]):
        pools[kind, sex] = (rows["given_name"].to_numpy(dtype=object), (rows["weight"] / rows["weight"].sum()).to_numpy())
    return (surnames["surname"].to_numpy(dtype=object),
            (surnames["weight"] / surnames["weight"].sum()).to_numpy(), pools)


def _choice(rng: np.random.Generator, values, n: int, p=None) -> np.ndarray:
    values = np.asarray(values, dtype=object)
    return values[rng.choice(len(values), size=n, p=p)]


def _weighted(rng: np.random.Generator, pool: tuple, n: int) -> np.ndarray:
    values, p = pool
    return _choice(rng, values, n, p)


# ---- people ------------------------------------------------------------------------------------

def _draw_people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """True identities of ``n`` people, one array per attribute."""
    gaz = _gazetteer()
    cats = vocab.CATEGORIES
    category = rng.choice(len(cats), size=n, p=np.array([c[1] for c in cats]) / sum(c[1] for c in cats))
    p_male = np.array([c[2] for c in cats])[category]
    male = rng.random(n) < p_male
    low, high = np.array([c[3] for c in cats])[category], np.array([c[4] for c in cats])[category]
    # elderly ages lean young-old (more 65–80 than 90s): triangular towards the low end
    age = low + (high - low) * rng.triangular(0, 0.35, 1, size=n)
    # how long ago the person went missing: recent years dominate, a tail to 20 years
    years_ago = np.select([rng.random(n) < 0.5, rng.random(n) < 0.6],
                          [rng.uniform(0, 3, n), rng.uniform(3, 10, n)], rng.uniform(10, 20, n))
    missing_date = REFERENCE_DATE - (years_ago * 365.25).astype("timedelta64[D]")
    birth_date = missing_date - (age * 365.25).astype(np.int64).astype("timedelta64[D]")

    province = rng.choice(len(gaz.province_keys), size=n, p=gaz.province_weights)
    county = gaz.county_start[province] + (rng.random(n) * gaz.county_count[province]).astype(np.int64)
    tcount = gaz.town_count[county]
    township = np.where(tcount > 0, gaz.town_start[county] + (rng.random(n) * tcount).astype(np.int64), -1)

    surnames, surname_p, pools = _names()
    surname = _choice(rng, surnames, n, surname_p)
    given = np.empty(n, dtype=object)
    for sex, rows in (("M", male), ("F", ~male)):
        k = int(rows.sum())
        style = rng.choice(3, size=k, p=(0.45, 0.10, 0.45))  # whole name, one character, composed
        names = _weighted(rng, pools["name", sex], k)
        single = _weighted(rng, pools["single", sex], k)
        composed = _weighted(rng, pools["first", sex], k) + _weighted(rng, pools["second", sex], k)
        given[rows] = np.select([style == 0, style == 1], [names, single], composed)
    name = surname + given
    # Uyghur names for half the people of Xinjiang: given name · father's name
    minority = (gaz.province_keys[province] == "65") & (rng.random(n) < vocab.MINORITY_SHARE_XINJIANG)
    if minority.any():
        k = int(minority.sum())
        male_m = male[minority]
        first_m = np.array([g[0] for g in vocab.UYGHUR_MALE], dtype=object)
        first_f = np.array([g[0] for g in vocab.UYGHUR_FEMALE], dtype=object)
        own = np.where(male_m, first_m[rng.integers(len(first_m), size=k)],
                       first_f[rng.integers(len(first_f), size=k)])
        father = first_m[rng.integers(len(first_m), size=k)]
        name[minority] = own + "·" + father
        surname[minority] = None
        given[minority] = own

    # 小名: a rural nickname, 小 + last character, or (south) 阿 + last character
    has_alias = (rng.random(n) < 0.3) & ~minority
    last_char = np.array([g[-1] if isinstance(g, str) and g else "" for g in given], dtype=object)
    nick = np.where(male, _choice(rng, vocab.NICKNAMES_M, n), _choice(rng, vocab.NICKNAMES_F, n))
    style = rng.random(n)
    alias = np.where(style < 0.6, nick, np.where(style < 0.85, "小" + last_char, "阿" + last_char))
    alias = np.where(has_alias, alias, None)

    adult_height = np.where(male, rng.normal(169, 6, n), rng.normal(158, 5.5, n))
    # children grow; the old shrink a little (about 1 cm a decade after 60)
    growth = np.clip(0.45 + 0.045 * age, 0, 1)
    height = np.round(adult_height * growth - np.clip(age - 60, 0, None) * 0.1).astype(np.int64)

    n_marks = rng.choice(4, size=n, p=(0.35, 0.40, 0.18, 0.07))
    marks = rng.choice(len(render.MARK_CATALOG), size=(n, 3), p=render.MARK_WEIGHTS)
    marks = np.where(np.arange(3)[None, :] < n_marks[:, None], marks, -1)
    # no duplicate marks in one person
    marks[:, 1] = np.where(marks[:, 1] == marks[:, 0], -1, marks[:, 1])
    marks[:, 2] = np.where((marks[:, 2] == marks[:, 0]) | (marks[:, 2] == marks[:, 1]), -1, marks[:, 2])

    build = rng.choice(3, size=n, p=(0.45, 0.45, 0.10))
    hair = np.where(age >= 55, rng.choice(5, size=n, p=(0.25, 0.5, 0.1, 0.05, 0.1)),
                    rng.choice(5, size=n, p=(0.6, 0.02, 0.1, 0.25, 0.03)))
    extra_condition = rng.choice(3, size=n, p=(0.93, 0.04, 0.03))  # none, 肢体残疾, 癫痫
    clothing = _draw_clothing(rng, n)
    return dict(category=category, male=male, age_at_missing=age, missing_date=missing_date,
                birth_date=birth_date, county=county, township=township, surname=surname, given=given,
                name=name, minority=minority, alias=alias, height=height, marks=marks, build=build,
                hair=hair, extra_condition=extra_condition, clothing=clothing)


def _draw_clothing(rng: np.random.Generator, n: int) -> np.ndarray:
    return ("穿" + _choice(rng, vocab.COLOURS, n) + _choice(rng, vocab.TOPS, n) + "、"
            + _choice(rng, vocab.COLOURS, n) + _choice(rng, vocab.BOTTOMS, n) + "、"
            + _choice(rng, vocab.SHOES, n))


def _conditions(people: dict, i: int) -> tuple[str, ...]:
    base = vocab.CATEGORIES[people["category"][i]][5]
    extra = ((), ("肢体残疾",), ("癫痫",))[people["extra_condition"][i]]
    return tuple(base) + extra


def _health_texts(rng: np.random.Generator, people: dict, rows: np.ndarray, who: int) -> np.ndarray:
    """Health text per row (``who`` 0 = family wording, 1 = station wording)."""
    primary = np.full(len(rows), None, dtype=object)
    category = people["category"][rows]
    for index, cat in enumerate(vocab.CATEGORIES):
        sel = category == index
        if not sel.any():
            continue
        words = vocab.CONDITION_WORDS[cat[5][0]][who] if cat[5] else vocab.MINOR_WORDS[who] if cat[0] == "minor" else ("", "身体健康")
        primary[sel] = _choice(rng, words, int(sel.sum()))
    extra = people["extra_condition"][rows]
    for code, condition in ((1, "肢体残疾"), (2, "癫痫")):
        sel = extra == code
        if sel.any():
            primary[sel] = primary[sel] + "，" + _choice(rng, vocab.CONDITION_WORDS[condition][who], int(sel.sum()))
    primary = np.array([p.strip("，") or None for p in primary], dtype=object)
    return primary


def _describe(people: dict, person: int, marks: list[int], wordings: list[int]) -> str:
    parts = [vocab.BUILD_WORDS[("瘦", "中等", "胖")[people["build"][person]]][wordings[0] % 3]
             if wordings else vocab.BUILD_WORDS[("瘦", "中等", "胖")[people["build"][person]]][0]]
    parts += [render.MARK_TEXT[m][w] for m, w in zip(marks, wordings)]
    parts.append(vocab.HAIR_WORDS[people["hair"][person]][(wordings[0] if wordings else 0) % 2])
    return "，".join(parts)


# ---- reports -----------------------------------------------------------------------------------

def _place_texts(rng, people, persons, style):
    """Home address text per person row in one of several styles."""
    gaz = _gazetteer()
    c = gaz.counties
    county = people["county"][persons]
    prov = c["province"].to_numpy(dtype=object)[county]
    pref = c["prefecture"].fillna("").to_numpy(dtype=object)[county]
    name = c["name"].to_numpy(dtype=object)[county]
    short_prov = np.array([str(p)[:2] if isinstance(p, str) else "" for p in prov], dtype=object)
    town_idx = people["township"][persons]
    town = np.where(town_idx >= 0, gaz.town_names[np.maximum(town_idx, 0)], "")
    options = (prov + pref + name + town, short_prov + name + town, pref + name, name + town, prov + name)
    out = np.empty(len(persons), dtype=object)
    for index, text in enumerate(options):
        out[style == index] = text[style == index]
    return out


def _reports(rng: np.random.Generator, people: dict, counts: np.ndarray) -> tuple[pd.DataFrame, dict]:
    n_persons = len(counts)
    person = np.repeat(np.arange(n_persons), counts)
    n = len(person)
    if n == 0:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in MISSING_COLUMNS})
        frame["source_row"] = pd.Series(dtype=np.int64)
        frame.attrs["kind"] = "missing"
        return frame, {"person": person, "guess": np.zeros(0, np.int64), "wording": np.zeros((0, 3), np.int64),
                       "far_station": np.zeros(0, np.int64)}
    first = np.cumsum(counts) - counts
    ordinal = np.arange(n) - np.repeat(first, counts)
    width = max(6, len(str(n)))
    missing_id = np.char.add("M", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)

    name = people["name"][person]
    alias = np.where(rng.random(n) < 0.8, people["alias"][person], None)
    sex = np.where(people["male"][person], "男", "女").astype(object)
    sex[rng.random(n) < 0.01] = None

    # birth date: full (45%), year only (30%), or only the age when lost (25%)
    # later reports drift a little from the first: a lunar-calendar birth year one off, a
    # relative who remembers the day lost a week or two differently
    later = ordinal > 0
    by, bm, bd = render.split_dates(people["birth_date"][person])
    by = by + np.where(later & (rng.random(n) < 0.08), rng.choice([-1, 1], size=n), 0)
    leap = (by % 4 == 0) & ((by % 100 != 0) | (by % 400 == 0))
    bd = np.where((bm == 2) & (bd == 29) & ~leap, 28, bd)  # 29 Feb moved to a common year
    kind = rng.choice(3, size=n, p=(0.45, 0.30, 0.25))
    fmt = np.where(kind == 0, rng.choice(5, size=n, p=(0.4, 0.3, 0.1, 0.1, 0.1)), np.where(kind == 1, 7, -1))
    birth_text = render.format_dates(by, bm, bd, fmt)
    birth_text[kind == 2] = None
    age_years = people["age_at_missing"][person].astype(np.int64)
    age_years = age_years + (rng.random(n) < 0.3)  # 虚岁: many families count the nominal age
    age_text = np.full(n, None, dtype=object)
    age_style = rng.integers(3, size=n)
    age_s = age_years.astype(str).astype(object)
    age_text = np.where(kind == 2, np.select([age_style == 0, age_style == 1], ["走失时" + age_s + "岁", age_s + "岁"],
                                             age_s), None)

    # a family's height guess: rounded, a little generous, each reporter guessing anew
    guess = people["height"][person] + rng.normal(1.5, 3.5, n)
    guess = np.where(rng.random(n) < 0.7, np.round(guess / 5) * 5, np.round(guess)).astype(np.int64)
    h_style = rng.choice(6, size=n, p=(0.25, 0.15, 0.2, 0.15, 0.1, 0.15))
    h_style[rng.random(n) < 0.12] = -1
    height_text = render.format_heights(guess, h_style)

    # only earlier: a report never says lost after the day the person was found
    drift = np.where(later & (rng.random(n) < 0.2), rng.integers(-15, 1, size=n), 0)
    my, mm, md = render.split_dates(np.minimum(people["missing_date"][person] + drift.astype("timedelta64[D]"),
                                               REFERENCE_DATE))
    m_fmt = rng.choice(8, size=n, p=(0.3, 0.25, 0.1, 0.05, 0.05, 0.15, 0.05, 0.05))
    missing_date_text = render.format_dates(my, mm, md, m_fmt)

    gaz = _gazetteer()
    hometown = _place_texts(rng, people, person, rng.choice(5, size=n))
    near = rng.random(n) < 0.75
    county_name = gaz.counties["name"].to_numpy(dtype=object)[people["county"][person]]
    town_idx = people["township"][person]
    town = np.where(town_idx >= 0, gaz.town_names[np.maximum(town_idx, 0)], "")
    prefecture = gaz.counties["prefecture"].fillna("").to_numpy(dtype=object)[people["county"][person]]
    # 邻水县 → 邻水县城; a city district needs its city (鼓楼区 exists in four cities)
    county_seat = np.array([c[:-1] + "县城" if c.endswith("县") else (f + c if c.endswith("区") else c + "城区")
                            for c, f in zip(county_name, prefecture)], dtype=object)
    near_text = np.where(rng.random(n) < 0.5, prefecture + county_name + town + "附近", county_seat)
    far_station = rng.integers(len(vocab.STATIONS), size=n)
    far_city = np.array([s[2] for s in vocab.STATIONS], dtype=object)[far_station]
    far_text = far_city + _choice(rng, vocab.FOUND_SPOTS[:4], n)
    missing_place = np.where(near, near_text, far_text)

    prov_key = gaz.counties["province_key"].to_numpy()[people["county"][person]]
    dialect_of = {k: v[1] for k, v in vocab.PROVINCE_ACCENT.items()}
    dialect = np.array([dialect_of[k] for k in prov_key], dtype=object) if n else np.array([], dtype=object)
    dialect[rng.random(n) < 0.45] = None

    # description: each report words marks its own way and sometimes forgets one
    wording = rng.integers(render.N_WORDINGS, size=(n, 3))
    wording[ordinal == 0] = 0  # the first report (often police) uses the plain wording
    forget = rng.random((n, 3)) < 0.1
    marks = people["marks"][person]
    description = np.empty(n, dtype=object)
    build_words = [vocab.BUILD_WORDS[b] for b in ("瘦", "中等", "胖")]
    builds = people["build"][person]
    hairs = people["hair"][person]
    mark_text = render.MARK_TEXT
    for i in range(n):  # cheap per-row join: a handful of list look-ups
        parts = [build_words[builds[i]][wording[i, 0] % 3]]
        row_marks = marks[i]
        for j in range(3):
            m = row_marks[j]
            if m >= 0 and not forget[i, j]:
                parts.append(mark_text[m][wording[i, j]])
        parts.append(vocab.HAIR_WORDS[hairs[i]][wording[i, 1] % 2])
        description[i] = "，".join(parts)

    clothing = np.where(rng.random(n) < 0.15, None, people["clothing"][person])  # often not known
    health = _health_texts(rng, people, person, 0)
    phone = np.char.zfill(rng.integers(10000, size=n).astype(str), 4).astype(object)
    contact = np.where(rng.random(n) < 0.5, "1380000" + phone,
                       people["surname"][person].astype(str) + np.where(rng.random(n) < 0.5, "先生 ", "女士 ") + "1390000" + phone)
    contact = np.where(people["minority"][person], "1380000" + phone, contact)
    base = rng.integers(len(vocab.REPORT_SOURCES), size=n_persons)[person]
    source = np.asarray(vocab.REPORT_SOURCES, dtype=object)[(base + ordinal * 3) % len(vocab.REPORT_SOURCES)]

    frame = pd.DataFrame({
        "missing_id": missing_id, "name": name, "alias": alias, "sex": sex, "birth_date": birth_text,
        "age": age_text, "height": height_text, "missing_date": missing_date_text,
        "missing_place": missing_place, "hometown": hometown, "dialect": dialect,
        "description": description, "clothing": clothing, "health": health, "contact": contact,
        "source": source,
    })
    # every column was built as an object array with None for blank (as intake returns them);
    # no blanket astype/where here: at a million rows that copy doubled the peak memory
    assert all(dtype == object for dtype in frame.dtypes), frame.dtypes
    frame.insert(len(frame.columns), "source_row", np.arange(2, n + 2))
    frame.attrs["kind"] = "missing"
    return frame, {"person": person, "guess": np.where(h_style >= 0, guess, -1), "wording": wording,
                   "far_station": np.where(near, -1, far_station)}


# ---- residents ---------------------------------------------------------------------------------

class _Log:
    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, resident_id: str, family: str, detail: str = "") -> None:
        self.rows.append((resident_id, family, detail))


def _resident_name(rng, rates, people, p, log, rid, station_house):
    """The name staff write, its name_source, and the logged mode."""
    pool = char_pool()
    true = people["name"][p]
    surname = people["surname"][p]
    surname_len = len(surname) if isinstance(surname, str) else 0
    minority = bool(people["minority"][p])
    modes = list(NAME_MODES)
    mode = modes[rng.choice(len(modes), p=np.array(list(NAME_MODES.values())) / sum(NAME_MODES.values()))]
    if minority and mode in ("homophone", "dialect_merger", "name_one_char_off"):
        new = minority_variant(true, rng)
        if new:
            log.add(rid, "minority_variant", f"{true}→{new}")
            return new, "自报"
        mode = "name_exact"
    if mode == "nickname" and not people["alias"][p]:
        mode = "partial_name"
    if mode == "dialect_merger":
        area = _gazetteer().counties["merger_area"].iat[people["county"][p]]
        merged = pool.merge(true, vocab.DIALECT_MERGERS.get(area, ()), rng, surname_len)
        if merged:
            new, family = merged
            log.add(rid, "dialect_merger", f"{family}: {true}→{new}")
            return _maybe_traditional(rng, rates, new, log, rid), "自报"
        mode = "homophone"
    if mode == "homophone":
        new = pool.homophone(true, rng, surname_len)
        if new:
            log.add(rid, "homophone", f"{true}→{new}")
            return _maybe_traditional(rng, rates, new, log, rid), "自报"
        mode = "name_exact"
    if mode == "name_one_char_off":
        i = int(rng.integers(surname_len, len(true))) if len(true) > surname_len else 0
        pool_chars = _names()[2]["single", "M" if people["male"][p] else "F"][0]
        candidates = [c for c in pool_chars if c != true[i] and pool.reading(c) != pool.reading(true[i])]
        new = true[:i] + str(rng.choice(candidates)) + true[i + 1:]
        log.add(rid, "name_one_char_off", f"{true}→{new}")
        return _maybe_traditional(rng, rates, new, log, rid), "自报"
    if mode == "partial_name":
        given = people["given"][p]
        options = [given] if minority else [given, surname, "老" + surname, "小" + surname, "阿" + given[-1]]
        options = [o for o in options if o and o != true]
        new = str(rng.choice(options))
        log.add(rid, "partial_name", f"{true}→{new}")
        return new, "自报"
    if mode == "nickname":
        new = people["alias"][p]
        log.add(rid, "nickname", f"{true}→{new}")
        return new, "自报"
    if mode == "assigned_name":
        if rng.random() < 0.2:
            sex_word = "男" if people["male"][p] else "女"
            new = str(rng.choice([n for n in vocab.PLACEHOLDER_NAMES if n.endswith(sex_word) or n == "无名氏"]))
        else:
            new = station_house + str(rng.choice(vocab.ASSIGNED_GIVEN))
        log.add(rid, "assigned_name", f"{true}→{new}")
        return new, "站内代名"
    if mode == "blank_name":
        log.add(rid, "blank_name", f"{true}→")
        return None, "不详"
    log.add(rid, "name_exact", true)
    source = "证件" if rng.random() < 0.1 else "自报"
    return (true if source == "证件" else _maybe_traditional(rng, rates, true, log, rid)), source


def _maybe_traditional(rng, rates, name, log, rid):
    if rng.random() < rates["traditional"]:
        new = traditional(name)
        if new != name:
            log.add(rid, "traditional", f"{name}→{new}")
            return new
    return name


def _residents(rng, rates, people, resident_persons, has_report, report_info, report_frame, log_start=1):
    gaz = _gazetteer()
    counties = gaz.counties
    pool = char_pool()
    n = len(resident_persons)
    width = max(6, len(str(n)))
    log = _Log()
    rows = []
    # found date: a gap after going missing from days to 20 years
    gap_kind = rng.choice(4, size=n, p=(0.35, 0.25, 0.25, 0.15))
    gap_days = np.select([gap_kind == 0, gap_kind == 1, gap_kind == 2],
                         [rng.uniform(0, 30, n), rng.uniform(30, 365, n), rng.uniform(365, 5 * 365, n)],
                         rng.uniform(5 * 365, 20 * 365, n)).astype(np.int64)
    missing_date = people["missing_date"][resident_persons]
    room = (REFERENCE_DATE - missing_date).astype(np.int64)
    # a gap longer than the time since going missing is redrawn within that time
    gap_days = np.where(gap_days > room, (rng.random(n) * (room + 1)).astype(np.int64), gap_days)
    found = missing_date + gap_days.astype("timedelta64[D]")
    fy, fm, fd = render.split_dates(found)
    found_text = render.format_dates(fy, fm, fd, rng.choice(5, size=n, p=(0.4, 0.3, 0.15, 0.1, 0.05)))
    station_health = _health_texts(rng, people, resident_persons, 1)
    new_clothes = _draw_clothing(rng, n)
    # the person's reports, for wording and height comparisons
    report_rows: dict[int, list[int]] = {}
    if report_info is not None:
        rows_of_residents = np.flatnonzero(np.isin(report_info["person"], resident_persons[has_report]))
        for r in rows_of_residents.tolist():
            report_rows.setdefault(int(report_info["person"][r]), []).append(r)
    stations_by_prov: dict[str, list[int]] = {}
    for s, st in enumerate(vocab.STATIONS):
        stations_by_prov.setdefault(st[1], []).append(s)

    for k in range(n):
        p = int(resident_persons[k])
        rid = f"R{k + 1:0{width}d}"
        county = int(people["county"][p])
        prov_key = counties["province_key"].iat[county]
        lost_far = [int(report_info["far_station"][r]) for r in report_rows.get(p, [])
                    if report_info["far_station"][r] >= 0]
        if lost_far and rng.random() < rates["found_where_lost"]:
            st = lost_far[0]  # lost in a far city and found there
        elif prov_key in stations_by_prov and rng.random() < rates["near_station"]:
            st = int(rng.choice(stations_by_prov[prov_key]))
        else:
            st = int(rng.integers(len(vocab.STATIONS)))
        station, st_prov, st_city, houses = vocab.STATIONS[st]
        if st_prov != prov_key:
            log.add(rid, "found_far_from_home", f"{counties['province'].iat[county]}→{st_city}")
        if not has_report[k]:
            log.add(rid, "no_report", "")
        else:
            nrep = len(report_rows.get(p, []))
            if nrep > 1:
                log.add(rid, "multiple_reports", str(nrep))
        if gap_days[k] >= 365:
            log.add(rid, "long_gap", f"{gap_days[k]}天")

        name, name_source = _resident_name(rng, rates, people, p, log, rid, houses[0])
        # some residents also give their 小名 (when it is not already what staff wrote as the name)
        alias = people["alias"][p]
        alias = alias if alias and alias != name and rng.random() < 0.15 else None

        # estimated age: homeless people look older; some estimates are far off
        true_age = float((found[k] - people["birth_date"][p]).astype(int)) / 365.25
        if true_age < 18:
            error = rng.normal(1.0, 3.0)
        else:
            error = rng.normal(3.0, 7.0 if true_age < 60 else 6.0)
        if rng.random() < rates["age_far_off"]:
            error = float(rng.choice([-1, 1], p=(0.3, 0.7))) * rng.uniform(12, 25)
        estimate = int(round(max(true_age + error, 3)))
        age_style = int(rng.choice(6, p=(0.35, 0.2, 0.15, 0.1, 0.1, 0.1)))
        age_text = render.format_age_estimate(estimate, age_style)
        if age_text and abs(estimate - true_age) >= 5:
            log.add(rid, "age_error", f"真实{true_age:.0f}岁，估计{estimate}岁")
        birth_text = None
        if name_source == "证件":
            by, bm, bd = render.split_dates(people["birth_date"][p:p + 1])
            birth_text = f"{by[0]}年{bm[0]}月{bd[0]}日"

        measured = int(round(people["height"][p] + rng.normal(0, 1.2)))
        h_style = int(rng.choice(6, p=(0.4, 0.15, 0.05, 0.15, 0.2, 0.05)))
        height_text = None if rng.random() < 0.1 else render.format_height(measured, h_style)
        guesses = [int(report_info["guess"][r]) for r in report_rows.get(p, []) if report_info["guess"][r] > 0]
        if height_text and guesses:
            worst = max(guesses, key=lambda g: abs(g - measured))
            if abs(worst - measured) >= 5:
                log.add(rid, "height_error", f"测量{measured}cm，报告{worst}cm")

        # marks: reworded against the first report, omitted, mirrored, a new scar
        marks = [int(m) for m in people["marks"][p] if m >= 0]
        original_marks = list(marks)
        first_wording = [0] * len(marks)
        wordings = list(first_wording)
        if marks and rng.random() < rates["mark_reworded"]:
            j = int(rng.integers(len(marks)))
            wordings[j] = int(rng.integers(1, render.N_WORDINGS))
            log.add(rid, "mark_reworded", f"{render.MARK_TEXT[marks[j]][0]}→{render.MARK_TEXT[marks[j]][wordings[j]]}")
        if marks and rng.random() < rates["mark_omitted"]:
            j = int(rng.integers(len(marks)))
            log.add(rid, "mark_omitted", render.mark_key(marks[j]))
            del marks[j], wordings[j]
        # mirror only onto a side that holds no mark of the same kind (else the change is invisible)
        sided = [j for j, m in enumerate(marks)
                 if render.MARK_SIDED[m] and int(render.MARK_MIRROR[m]) not in original_marks]
        if sided and rng.random() < rates["mark_mirrored"]:
            j = int(rng.choice(sided))
            mirrored = int(render.MARK_MIRROR[marks[j]])
            log.add(rid, "mark_mirrored", f"{render.mark_key(marks[j])}→{render.mark_key(mirrored)}")
            marks[j] = mirrored
        if rng.random() < rates["new_mark"]:
            scar = int(rng.choice(render.SCAR_MARKS))
            if scar not in original_marks and scar not in marks:
                marks.append(scar)
                wordings.append(int(rng.integers(render.N_WORDINGS)))
                log.add(rid, "new_mark", render.mark_key(scar))
        description = _describe(people, p, marks, wordings) if marks else _describe(people, p, [], [])

        # a person who cannot give a name can rarely say much else: fewer clues, less accent
        talks = name_source in ("自报", "证件")
        accent = _accent(rng, rates, people, p, prov_key, log, rid, talks)
        statements = _statements(rng, rates, people, p, county, log, rid, pool, talks)
        same_clothes = gap_days[k] <= 7 and rng.random() < 0.7
        rows.append({
            "resident_id": rid, "station": station, "name": name, "name_source": name_source,
            "alias": alias, "sex": "男" if people["male"][p] else "女", "age": age_text,
            "birth_date": birth_text, "height": height_text, "found_date": found_text[k],
            "found_place": st_city + str(rng.choice(vocab.FOUND_SPOTS)), "accent": accent,
            "description": description,
            "clothing": (reword_clothing(people["clothing"][p], rng) if same_clothes
                         else None if rng.random() < 0.1
                         else (f"{rng.choice(vocab.WORN_WORDS)}，{new_clothes[k]}" if gap_days[k] > 30
                               and rng.random() < 0.5 else new_clothes[k])),
            "health": station_health[k], "statements": statements, "photo": None,
            "contact": f"0000-6{st:03d}0000",
        })
    frame = pd.DataFrame(rows, columns=RESIDENT_COLUMNS)
    frame = frame.astype(object).where(frame.notna(), None)
    frame["source_row"] = np.arange(2, n + 2)
    frame.attrs["kind"] = "resident"
    return frame, log


def _accent(rng, rates, people, p, prov_key, log, rid, talks=True):
    if vocab.CATEGORIES[people["category"][p]][0] == "deaf_mute":
        return None
    if rng.random() < rates["accent_contradiction"]:
        if rng.random() < 0.5:
            wrong = str(rng.choice([k for k in vocab.PROVINCE_ACCENT
                                    if vocab.PROVINCE_ACCENT[k][0] != vocab.PROVINCE_ACCENT[prov_key][0]]))
            text = vocab.PROVINCE_ACCENT[wrong][0]
        else:
            text = str(rng.choice(vocab.VAGUE_ACCENTS))
        log.add(rid, "accent_contradiction", f"{vocab.PROVINCE_ACCENT[prov_key][0]}→{text}")
        return text
    if rng.random() < (0.15 if talks else 0.5):
        return None
    accent, dialect = vocab.PROVINCE_ACCENT[prov_key]
    return str(rng.choice(vocab.ACCENT_FORMS)).format(a=accent, d=dialect)


def _statements(rng, rates, people, p, county, log, rid, pool, talks=True):
    factor = 1.0 if talks else SILENT_CLUE_FACTOR
    gaz = _gazetteer()
    counties = gaz.counties
    parts = []
    if vocab.CATEGORIES[people["category"][p]][0] == "deaf_mute" or rng.random() < (0.15 if talks else 0.7):
        parts.append(str(rng.choice(vocab.STATEMENT_NONE)))
    short = counties["short_name"].iat[county]
    town = people["township"][p]
    if rng.random() < rates["place_fragment"] * factor:
        choice = rng.random()
        if choice < 0.4 or town < 0:
            char = short[int(rng.integers(len(short)))]
            parts.append(str(rng.choice(vocab.STATEMENT_FRAGMENT)).format(c=char))
            log.add(rid, "place_fragment", f"{counties['name'].iat[county]}: “{char}”")
        else:
            town_short = str(gaz.town_short[town])
            heard = pool.homophone(town_short, rng, surname_len=0) if choice < 0.8 else None
            parts.append(str(rng.choice(vocab.STATEMENT_SOUND)).format(s=heard or town_short))
            log.add(rid, "place_fragment", f"{gaz.town_names[town]}: “{heard or town_short}”"
                    + ("（音）" if heard else ""))
    elif rng.random() < 0.15 * factor:
        parts.append(str(rng.choice(vocab.STATEMENT_HOME)).format(p=short))
    code = counties["code"].iat[county]
    old = gaz.old_names.get(code)
    if old and rng.random() < rates["old_place_name"] * factor:
        name = str(rng.choice(old))
        parts.append(str(rng.choice(vocab.STATEMENT_OLD_UNIT)).format(o=name))
        log.add(rid, "old_place_name", f"{name}→{counties['name'].iat[county]}")
    if rng.random() < 0.12 * factor and isinstance(people["surname"][p], str):
        relative = people["surname"][p] + str(rng.choice(_names()[2]["single", "M"][0]))
        parts.append(str(rng.choice(vocab.STATEMENT_RELATIVE)).format(n=relative))
    text = "；".join(x for x in parts if x)
    return text or None


# ---- entry point -------------------------------------------------------------------------------

def simulate(n_missing: int = 10_000, n_residents: int = 1_000, seed: int = 0,
             rates: dict | None = None) -> Simulation:
    """Simulate ``n_residents`` station residents and ``n_missing`` missing-person reports.

    Deterministic per ``seed``. ``rates`` overrides entries of :data:`DEFAULT_RATES`. Each
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
    rates = {**DEFAULT_RATES, **(rates or {})}
    rng = np.random.default_rng(seed)

    # reports per person: 1–3, cut so the total is exactly n_missing
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

    n_with = min(int(round(n_residents * (1 - rates["no_report"]))), n_reported)
    n_without = n_residents - n_with
    people = _draw_people(rng, n_reported + n_without)
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

    report_frame, report_info = _reports(rng, people, counts)
    resident_persons = np.r_[with_report, np.arange(n_reported, n_reported + n_without)].astype(np.int64)
    has_report = np.r_[np.ones(n_with, bool), np.zeros(n_without, bool)]
    order = rng.permutation(n_residents)
    resident_persons, has_report = resident_persons[order], has_report[order]
    residents, log = _residents(rng, rates, people, resident_persons, has_report, report_info, report_frame)

    rid_of_person = dict(zip(resident_persons.tolist(), residents["resident_id"]))
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
    people_frame = _people_frame(people, resident_persons, residents)
    return Simulation(residents, report_frame, truth, distortions, people_frame, seed, rates)


def _people_frame(people: dict, resident_persons: np.ndarray, residents: pd.DataFrame) -> pd.DataFrame:
    """True identities of the residents (the reported people are in ``missing``)."""
    gaz = _gazetteer()
    p = resident_persons
    county = people["county"][p]
    return pd.DataFrame({
        "resident_id": residents["resident_id"].to_numpy(),
        "name": people["name"][p],
        "alias": people["alias"][p],
        "sex": np.where(people["male"][p], "M", "F"),
        "birth_date": people["birth_date"][p],
        "category": [vocab.CATEGORIES[c][0] for c in people["category"][p]],
        "home_county": gaz.counties["code"].to_numpy()[county],
        "dialect_area": gaz.counties["dialect_area"].to_numpy()[county],
        "height_cm": people["height"][p],
        "marks": [tuple(render.mark_key(m) for m in row if m >= 0) for row in people["marks"][p]],
        "conditions": [_conditions(people, int(i)) for i in p],
    })
