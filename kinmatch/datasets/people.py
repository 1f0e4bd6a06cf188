"""True identities: who goes missing, from where, under what name, with which body and clothes.

Every attribute is drawn for all people at once as a numpy array (a million people in seconds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kinmatch.datasets import drift, render, vocab
from kinmatch.datasets.config import REFERENCE_DATE
from kinmatch.datasets.reference import gazetteer, name_pools, pick, pick_weighted


def draw_people(rng: np.random.Generator, n: int, rates: dict | None = None) -> dict[str, np.ndarray]:
    """True identities of ``n`` people, one array per attribute. ``rates`` may set
    ``category_shares`` and ``province_factors`` (see :data:`kinmatch.datasets.config.CONFIGURATIONS`)."""
    gaz = gazetteer()
    rates = rates or {}
    cats = vocab.CATEGORIES
    shares = np.array([(rates.get("category_shares") or {}).get(c[0], c[1]) for c in cats], dtype=float)
    category = rng.choice(len(cats), size=n, p=shares / shares.sum())
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

    province_weights = gaz.province_weights
    if rates.get("province_factors"):
        factors = np.array([rates["province_factors"].get(k, 1.0) for k in gaz.province_keys], dtype=float)
        province_weights = province_weights * factors / (province_weights * factors).sum()
    province = rng.choice(len(gaz.province_keys), size=n, p=province_weights)
    county = gaz.county_start[province] + (rng.random(n) * gaz.county_count[province]).astype(np.int64)
    tcount = gaz.town_count[county]
    township = np.where(tcount > 0, gaz.town_start[county] + (rng.random(n) * tcount).astype(np.int64), -1)

    surnames, surname_p, pools = name_pools()
    surname = pick(rng, surnames, n, surname_p)
    given = np.empty(n, dtype=object)
    for sex, rows in (("M", male), ("F", ~male)):
        k = int(rows.sum())
        style = rng.choice(3, size=k, p=(0.45, 0.10, 0.45))  # whole name, one character, composed
        names = pick_weighted(rng, pools["name", sex], k)
        single = pick_weighted(rng, pools["single", sex], k)
        composed = pick_weighted(rng, pools["first", sex], k) + pick_weighted(rng, pools["second", sex], k)
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
    nick = np.where(male, pick(rng, vocab.NICKNAMES_M, n), pick(rng, vocab.NICKNAMES_F, n))
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
    clothing = draw_clothing(rng, n)
    return dict(category=category, male=male, age_at_missing=age, missing_date=missing_date,
                birth_date=birth_date, county=county, township=township, surname=surname, given=given,
                name=name, minority=minority, alias=alias, height=height, marks=marks, build=build,
                hair=hair, extra_condition=extra_condition, clothing=clothing)


def draw_clothing(rng: np.random.Generator, n: int) -> np.ndarray:
    return ("穿" + pick(rng, vocab.COLOURS, n) + pick(rng, vocab.TOPS, n) + "、"
            + pick(rng, vocab.COLOURS, n) + pick(rng, vocab.BOTTOMS, n) + "、"
            + pick(rng, vocab.SHOES, n))


def true_conditions(people: dict, i: int) -> tuple[str, ...]:
    base = vocab.CATEGORIES[people["category"][i]][5]
    extra = ((), ("肢体残疾",), ("癫痫",))[people["extra_condition"][i]]
    return tuple(base) + extra


def health_texts(rng: np.random.Generator, people: dict, rows: np.ndarray, who: int) -> np.ndarray:
    """Health text per row (``who`` 0 = family wording, 1 = station wording)."""
    primary = np.full(len(rows), None, dtype=object)
    category = people["category"][rows]
    for index, cat in enumerate(vocab.CATEGORIES):
        sel = category == index
        if not sel.any():
            continue
        if cat[5]:
            words = vocab.CONDITION_WORDS[cat[5][0]][who]
        else:
            words = vocab.MINOR_WORDS[who] if cat[0] == "minor" else ("", "身体健康")
        primary[sel] = pick(rng, words, int(sel.sum()))
    extra = people["extra_condition"][rows]
    for code, condition in ((1, "肢体残疾"), (2, "癫痫")):
        sel = extra == code
        if sel.any():
            primary[sel] = primary[sel] + "，" + pick(rng, vocab.CONDITION_WORDS[condition][who], int(sel.sum()))
    primary = np.array([p.strip("，") or None for p in primary], dtype=object)
    return primary


def describe(build: int | None, hair: int | None, marks: list[int], wordings: list[int]) -> str | None:
    """A station's description: build, marks, hair (``None`` build or hair: left out).

    >>> describe(0, 1, [], []), describe(None, None, [], [])
    ('体型偏瘦，花白头发', None)
    """
    first = wordings[0] if wordings else 0
    parts = [] if build is None else [vocab.BUILD_WORDS[("瘦", "中等", "胖")[build]][first % 3]]
    parts += [render.MARK_TEXT[m][w] for m, w in zip(marks, wordings)]
    if hair is not None:
        parts.append(vocab.HAIR_WORDS[hair][first % len(vocab.HAIR_WORDS[hair])])
    return "，".join(parts) or None


def people_frame(people: dict, resident_persons: np.ndarray, residents: pd.DataFrame,
                 found_date: np.ndarray | None = None) -> pd.DataFrame:
    """True identities of the residents (the reported people are in ``missing``); ``build`` and
    ``hair`` are as at loss (what the reports say), ``missing_date`` and ``found_date`` the true
    dates, so the years between them explain drift."""
    gaz = gazetteer()
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
        "conditions": [true_conditions(people, int(i)) for i in p],
        "build": np.asarray(drift.BUILD_NAMES, dtype=object)[people["build"][p]],
        "hair": np.asarray(drift.HAIR_NAMES, dtype=object)[people["hair"][p]],
        "missing_date": people["missing_date"][p],
        "found_date": (found_date if found_date is not None
                       else np.full(len(p), np.datetime64("NaT"), "datetime64[D]")),
    })
