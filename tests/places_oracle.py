"""Plain indexes of the shipped gazetteer that tests check the parser's fast structures against."""

from __future__ import annotations

import functools
from collections import defaultdict

from kinmatch.normalize import places


@functools.lru_cache(maxsize=1)
def names_by_char() -> dict[str, list[tuple[str, str, str, str]]]:
    """character → (level, county code, name, short name) of every current county, then every
    township of the townships table, whose short name contains it, in table order: the plain index
    that one-character fragments (邻 → 邻水县) are read from, built independently of the sound
    names the parser uses."""
    g = places._gaz()
    out: dict[str, list] = defaultdict(list)
    current, towns = g.current, g.towns
    rows = list(zip(["county"] * len(current), current["code"].tolist(), current["name"].tolist(),
                    current["short_name"].tolist(), strict=True))
    rows += zip(["township"] * len(towns), towns["county_code"].tolist(), towns["name"].tolist(),
                towns["short_name"].tolist(), strict=True)
    for row in rows:
        for ch in set(row[3]):  # each character once per name; each list stays in table order
            out[ch].append(row)
    return dict(out)
