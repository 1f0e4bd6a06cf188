"""Resident records as station staff write them, garbled the way DOMAIN.md documents, with each
garbling logged. Residents are few (thousands), so they are written one by one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kinmatch.datasets import render, vocab
from kinmatch.datasets.config import NAME_MODES, REFERENCE_DATE, RESIDENT_COLUMNS, SILENT_CLUE_FACTOR
from kinmatch.datasets.distortions import char_pool, minority_variant, reword_clothing, traditional
from kinmatch.datasets.drift import drift_descriptions, drift_detail, omissions
from kinmatch.datasets.people import describe, draw_clothing, health_texts
from kinmatch.datasets.reference import gazetteer, name_pools


class DistortionLog:
    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, resident_id: str, family: str, detail: str = "") -> None:
        self.rows.append((resident_id, family, detail))


def resident_name(rng, rates, people, p, log, rid, station_house):
    """The name staff write, its name_source, and the logged mode."""
    pool = char_pool()
    true = people["name"][p]
    surname = people["surname"][p]
    surname_len = len(surname) if isinstance(surname, str) else 0
    minority = bool(people["minority"][p])
    name_modes = rates.get("name_modes") or NAME_MODES
    modes = list(name_modes)
    mode = modes[rng.choice(len(modes), p=np.array(list(name_modes.values())) / sum(name_modes.values()))]
    if minority and mode in ("homophone", "dialect_merger", "name_one_char_off"):
        new = minority_variant(true, rng)
        if new:
            log.add(rid, "minority_variant", f"{true}→{new}")
            return new, "自报"
        mode = "name_exact"
    if mode == "nickname" and not people["alias"][p]:
        mode = "partial_name"
    if mode == "dialect_merger":
        area = gazetteer().counties["merger_area"].iat[people["county"][p]]
        merged = pool.merge(true, vocab.DIALECT_MERGERS.get(area, ()), rng, surname_len)
        if merged:
            new, family = merged
            log.add(rid, "dialect_merger", f"{family}: {true}→{new}")
            return maybe_traditional(rng, rates, new, log, rid), "自报"
        mode = "homophone"
    if mode == "homophone":
        new = pool.homophone(true, rng, surname_len)
        if new:
            log.add(rid, "homophone", f"{true}→{new}")
            return maybe_traditional(rng, rates, new, log, rid), "自报"
        mode = "name_exact"
    if mode == "name_one_char_off":
        i = int(rng.integers(surname_len, len(true))) if len(true) > surname_len else 0
        pool_chars = name_pools()[2]["single", "M" if people["male"][p] else "F"][0]
        candidates = [c for c in pool_chars if c != true[i] and pool.reading(c) != pool.reading(true[i])]
        new = true[:i] + str(rng.choice(candidates)) + true[i + 1:]
        log.add(rid, "name_one_char_off", f"{true}→{new}")
        return maybe_traditional(rng, rates, new, log, rid), "自报"
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
    return (true if source == "证件" else maybe_traditional(rng, rates, true, log, rid)), source


def maybe_traditional(rng, rates, name, log, rid):
    if rng.random() < rates["traditional"]:
        new = traditional(name)
        if new != name:
            log.add(rid, "traditional", f"{name}→{new}")
            return new
    return name


CLOTHES_STILL_WORN = ((30, 0.5), (120, 0.25), (366, 0.08))
"""(last day after the loss, chance): a resident found after the first week (and not in the same
clothes by then) still wears what the report describes, worn; none after a year."""


def clothes_still_worn(gap_days: float) -> float:
    """The chance that a resident found ``gap_days`` after the loss wears the clothes of the report.

    >>> clothes_still_worn(20), clothes_still_worn(200), clothes_still_worn(800)
    (0.5, 0.08, 0.0)
    """
    return next((chance for last, chance in CLOTHES_STILL_WORN if gap_days <= last), 0.0)


def _later_clothing(rng, drift_rng, at_loss: str, new: str, gap_days: float, still_worn: bool):
    # the main stream draws as it always did; the clothes at loss (reworded by the station, worn)
    # replace what it drew when ``still_worn``
    drawn = None if rng.random() < 0.1 else (f"{rng.choice(vocab.WORN_WORDS)}，{new}" if gap_days > 30
                                             and rng.random() < 0.5 else new)
    return reword_clothing(at_loss, drift_rng, worn=True) if still_worn else drawn


def draw_residents(rng, rates, people, resident_persons, has_report, report_info, drift_rng=None):
    """Resident records for `resident_persons` (people indices), the log of their distortions and
    their true found dates. With ``drift_rng`` build and hair drift from their values at loss
    (:mod:`kinmatch.datasets.drift`); without it they are copied."""
    gaz = gazetteer()
    counties = gaz.counties
    pool = char_pool()
    n = len(resident_persons)
    width = max(6, len(str(n)))
    log = DistortionLog()
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
    station_health = health_texts(rng, people, resident_persons, 1)
    build_at_loss = people["build"][resident_persons]
    hair_at_loss = people["hair"][resident_persons]
    if drift_rng is not None:
        build_seen, hair_seen = drift_descriptions(drift_rng, rates, build_at_loss, hair_at_loss,
                                                   people["age_at_missing"][resident_persons], gap_days / 365.25)
        no_build, no_hair = omissions(drift_rng, rates, n, "resident")
    else:
        build_seen, hair_seen = build_at_loss, hair_at_loss
        no_build = no_hair = np.zeros(n, dtype=bool)
    new_clothes = draw_clothing(rng, n)
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

        name, name_source = resident_name(rng, rates, people, p, log, rid, houses[0])
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
        build = None if no_build[k] else int(build_seen[k])
        hair = None if no_hair[k] else int(hair_seen[k])
        description = describe(build, hair, marks, wordings)
        detail = drift_detail(int(build_at_loss[k]), build, int(hair_at_loss[k]), hair)
        if detail:
            log.add(rid, "description_drift", detail)

        # a person who cannot give a name can rarely say much else: fewer clues, less accent
        talks = name_source in ("自报", "证件")
        accent = accent_text(rng, rates, people, p, prov_key, log, rid, talks)
        statements = statements_text(rng, rates, people, p, county, log, rid, pool, talks)
        same_clothes = gap_days[k] <= 7 and rng.random() < 0.7
        # found later, some still wear what they left in (drawn from the drift stream, so the rest
        # of a seed's simulation is unchanged)
        still_worn = (not same_clothes and drift_rng is not None
                      and drift_rng.random() < clothes_still_worn(float(gap_days[k])))
        rows.append({
            "resident_id": rid, "station": station, "name": name, "name_source": name_source,
            "alias": alias, "sex": "男" if people["male"][p] else "女", "age": age_text,
            "birth_date": birth_text, "height": height_text, "found_date": found_text[k],
            "found_place": st_city + str(rng.choice(vocab.FOUND_SPOTS)), "accent": accent,
            "description": description,
            "clothing": (reword_clothing(people["clothing"][p], rng) if same_clothes
                         else _later_clothing(rng, drift_rng, people["clothing"][p], new_clothes[k],
                                              float(gap_days[k]), still_worn)),
            "health": station_health[k], "statements": statements, "photo": None,
            "contact": f"0000-6{st:03d}0000",
        })
    frame = pd.DataFrame(rows, columns=RESIDENT_COLUMNS)
    frame = frame.astype(object).where(frame.notna(), None)
    frame["source_row"] = np.arange(2, n + 2)
    frame.attrs["kind"] = "resident"
    return frame, log, found


def accent_text(rng, rates, people, p, prov_key, log, rid, talks=True):
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


def statements_text(rng, rates, people, p, county, log, rid, pool, talks=True):
    factor = 1.0 if talks else SILENT_CLUE_FACTOR
    gaz = gazetteer()
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
        relative = people["surname"][p] + str(rng.choice(name_pools()[2]["single", "M"][0]))
        parts.append(str(rng.choice(vocab.STATEMENT_RELATIVE)).format(n=relative))
    text = "；".join(x for x in parts if x)
    return text or None
