"""Missing-person reports as families, police and platforms write them: 1–3 per person, each a
little different. Built column by column with numpy; one cheap Python join per row for the
description.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kinmatch.datasets import render, vocab
from kinmatch.datasets.config import DEFAULT_RATES, MISSING_COLUMNS, REFERENCE_DATE
from kinmatch.datasets.drift import omissions
from kinmatch.datasets.people import health_texts
from kinmatch.datasets.reference import gazetteer, pick


def place_texts(rng, people, persons, style):
    """Home address text per person row in one of several styles."""
    gaz = gazetteer()
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


def draw_reports(rng: np.random.Generator, people: dict, counts: np.ndarray, rates: dict | None = None,
                 drift_rng: np.random.Generator | None = None) -> tuple[pd.DataFrame, dict]:
    """Reports of the people, ``counts[i]`` for person ``i``. Build and hair are the person's at loss;
    with ``drift_rng`` some reports leave them out (``rates["build_omitted_report"]``, ...)."""
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

    gaz = gazetteer()
    hometown = place_texts(rng, people, person, rng.choice(5, size=n))
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
    far_text = far_city + pick(rng, vocab.FOUND_SPOTS[:4], n)
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
    if drift_rng is not None:
        no_build, no_hair = omissions(drift_rng, rates or DEFAULT_RATES, n, "report")
    else:
        no_build = no_hair = np.zeros(n, dtype=bool)
    mark_text = render.MARK_TEXT
    for i in range(n):  # cheap per-row join: a handful of list look-ups
        parts = [] if no_build[i] else [build_words[builds[i]][wording[i, 0] % 3]]
        row_marks = marks[i]
        for j in range(3):
            m = row_marks[j]
            if m >= 0 and not forget[i, j]:
                parts.append(mark_text[m][wording[i, j]])
        if not no_hair[i]:
            words = vocab.HAIR_WORDS[hairs[i]]
            parts.append(words[wording[i, 1] % len(words)])
        description[i] = "，".join(parts) or None  # nothing left to say: blank, as intake gives it

    clothing = np.where(rng.random(n) < 0.15, None, people["clothing"][person])  # often not known
    health = health_texts(rng, people, person, 0)
    phone = np.char.zfill(rng.integers(10000, size=n).astype(str), 4).astype(object)
    bare = rng.random(n) < 0.5  # drawn before the title below: the simulator's stream stays as it was
    named = people["surname"][person].astype(str) + np.where(rng.random(n) < 0.5, "先生 ", "女士 ") + "1390000" + phone
    contact = np.where(bare, "1380000" + phone, named)
    contact = np.where(people["minority"][person], "1380000" + phone, contact)
    base = rng.integers(len(vocab.REPORT_SOURCES), size=n_persons)[person]
    source = np.asarray(vocab.REPORT_SOURCES, dtype=object)[(base + ordinal * 3) % len(vocab.REPORT_SOURCES)]

    frame = pd.DataFrame({
        "missing_id": missing_id, "name": name, "alias": alias, "sex": sex, "birth_date": birth_text,
        "age": age_text, "height": height_text, "missing_date": missing_date_text,
        "missing_place": missing_place, "hometown": hometown, "dialect": dialect,
        "description": description, "clothing": clothing, "health": health, "contact": contact,
        "source": source, "photo": np.full(len(source), None, dtype=object),
    })
    # every column was built as an object array with None for blank (as intake returns them);
    # no blanket astype/where here: at a million rows that copy doubled the peak memory
    assert all(dtype is np.dtype(object) for dtype in frame.dtypes), frame.dtypes
    frame.insert(len(frame.columns), "source_row", np.arange(2, n + 2))
    frame.attrs["kind"] = "missing"
    return frame, {"person": person, "guess": np.where(h_style >= 0, guess, -1), "wording": wording,
                   "far_station": np.where(near, -1, far_station)}
