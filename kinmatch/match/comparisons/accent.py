"""Accent against hometown: does the way a person speaks fit where the other record says they
come from?

Either side may carry accent evidence (the resident's accent noted by the station, the dialect a
family reports) and a home (the report's hometown province and its dialect area). Each side's
accent is held against the other side's home, and the better of the two directions wins, so the
comparison is symmetric.
"""

from __future__ import annotations

from kinmatch.match.comparisons.base import MISSING, PairwiseComparison

AREA_GROUPS = ("N_Man", "JH_Man", "SW_Man", "Wu", "Xiang", "Gan", "Hakka", "Min", "Yue", "P_T")
"""Dialect groups; a sub-area code starts with its group (``N_Man_NE`` is in ``N_Man``)."""


def area_group(area: str | None) -> str:
    """Dialect sub-area → its group (``'N_Man_NE'`` → ``'N_Man'``); an unknown code is its own group.

        >>> area_group("JH_Man_Hu"), area_group("Yue"), area_group("X_1")
        ('JH_Man', 'Yue', 'X_1')
    """
    area = area or ""
    for group in AREA_GROUPS:
        if area == group or area.startswith(group + "_"):
            return group
    return area


def home_province(code: str | None) -> str:
    """The province of a home-province cell: a 6-digit code is cut to its province (a county code
    put in the province column means its province); anything else is kept as it is."""
    code = code or ""
    return code[:2] + "0000" if len(code) == 6 else code


class AccentComparison(PairwiseComparison):
    """Accent vs home: 2 an accent province is the other side's home province (or one of its
    accent provinces), 1 the accent's dialect group is that of the other side's home dialect area
    (else of its own accent), 0 neither; -1 when no direction has both an accent and a home.

        >>> import pandas as pd, numpy as np
        >>> resident = pd.DataFrame({"accent_provinces": [("510000",)], "accent_area": ["SW_Man"],
        ...                          "home_province": [None], "home_dialect_area": [None]})
        >>> report = pd.DataFrame({"accent_provinces": [()], "accent_area": [None],
        ...                        "home_province": ["520000"], "home_dialect_area": ["SW_Man_GZ"]})
        >>> accent = AccentComparison()
        >>> accent.levels(accent.encode(resident, report), np.array([0]), np.array([0])).tolist()
        [1]
    """

    name = "accent"
    title = "口音"
    labels = {-1: "口音不详", 0: "口音与家乡不符", 1: "口音属家乡方言区", 2: "口音与家乡省份相符"}
    ordered = True
    agree_from = 1
    left_columns = right_columns = ("accent_provinces", "accent_area", "home_province", "home_dialect_area")
    fields = (("口音 / 方言", "accent", "dialect"),)

    def clean(self, values: tuple, side: str) -> tuple:
        provinces, area, home, home_area = values
        return frozenset(provinces), area or "", home_province(home), home_area or ""

    def blank(self, cleaned: tuple) -> bool:
        return not any(cleaned)

    def level(self, left: tuple, right: tuple) -> int:
        best = MISSING
        for (provinces, area, _, _), (other, other_area, home, home_area) in ((left, right), (right, left)):
            if not (provinces or area):
                continue
            home_area = home_area or other_area
            if not (other or home or home_area):
                continue
            if provinces and (home in provinces or not provinces.isdisjoint(other)):
                level = 2
            elif area and home_area and area_group(area) == area_group(home_area):
                level = 1
            else:
                level = 0
            best = max(best, level)
        return best
