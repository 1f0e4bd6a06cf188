"""The campaign report's charts (matplotlib, drawn offline to PNG bytes).

- :func:`station_bars`: received, confirmed and reunited residents by station;
- :func:`reunions_chart`: confirmations and reunions by month;
- :func:`compliance_chart`: the 24-hour notice and 7-working-day DNA deadlines, on time or not;
- :func:`origin_map`: where residents were found and where their confirmed reports say they came
  from, over the shipped county coordinates (``kinmatch.data.load_table("counties")``), with no
  web tiles: every county is a faint dot, so the country's outline shows without a basemap.

Labels are Chinese, drawn with the notices' CJK font (:func:`kinmatch.notices.poster.find_cjk_font`).
Figures are built with :class:`matplotlib.figure.Figure`, not pyplot, so nothing depends on a
display or a global backend.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping

import pandas as pd

__all__ = ["CHARTS", "report_charts", "station_bars", "reunions_chart", "compliance_chart", "origin_map"]

CHARTS = {"stations": "各救助站接收、确认与返乡人数", "reunions": "逐月确认与返乡",
          "compliance": "时限执行情况", "map": "发现地与来源地"}
"""Chart codes and their Chinese titles, in report order."""

_COLOURS = {"received": "#4c72b0", "confirmed": "#dd8452", "reunited": "#55a868",
            "按时办理": "#55a868", "逾期办理": "#dd8452", "逾期未办": "#c44e52", "未到期": "#b0b0b0"}


@functools.lru_cache(maxsize=1)
def _font_name() -> str:
    from matplotlib import font_manager

    from kinmatch.notices.poster import find_cjk_font

    path = find_cjk_font()
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _styled(draw):
    """Run ``draw`` (which builds a figure) with the CJK font active, return the PNG bytes.

    Text takes its font from the settings active when it is created, so the whole drawing, not
    only the saving, happens inside the context."""
    import matplotlib

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> bytes:
        with matplotlib.rc_context({"font.family": [_font_name()], "axes.unicode_minus": False}):
            return _png(draw(*args, **kwargs))
    return wrapper


@_styled
def station_bars(by_station: pd.DataFrame):
    """Grouped horizontal bars: 接收, 确认同一人, 返乡团聚 per station."""
    figure = _figure(7.5, 1.6 + 0.55 * max(1, len(by_station)))
    axes = figure.add_subplot()
    stations = list(by_station.index)[::-1]
    series = (("received", "接收受助人员"), ("confirmed", "确认同一人"), ("reunited", "返乡团聚"))
    height = 0.8 / len(series)
    for i, (code, label) in enumerate(series):
        values = [int(by_station.loc[s, code]) for s in stations] if len(stations) else []
        positions = [k + (i - 1) * height for k in range(len(stations))]
        axes.barh(positions, values, height=height, label=label, color=_COLOURS[code])
    axes.set_yticks(range(len(stations)), stations)
    axes.set_xlabel("人数")
    axes.set_title(CHARTS["stations"])
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3, frameon=False)
    return figure


@_styled
def reunions_chart(by_month: pd.DataFrame):
    """Bars of reunions and a line of confirmations, by month."""
    figure = _figure(7.5, 3.2)
    axes = figure.add_subplot()
    months = list(by_month.index)
    axes.bar(months, by_month["reunited"] if len(months) else [], color=_COLOURS["reunited"], label="返乡团聚")
    axes.plot(months, by_month["confirmed"] if len(months) else [], color=_COLOURS["confirmed"], marker="o",
              label="确认同一人")
    axes.set_ylabel("人数")
    axes.set_title(CHARTS["reunions"])
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="upper left")
    return figure


@_styled
def compliance_chart(compliance: pd.DataFrame, labels: Mapping[str, str]):
    """Stacked horizontal bars: each deadline's residents by 按时办理 / 逾期办理 / 逾期未办 / 未到期."""
    figure = _figure(7.5, 2.4)
    axes = figure.add_subplot()
    kinds = list(compliance.index)[::-1]
    left = [0] * len(kinds)
    for status in compliance.columns:
        values = [int(compliance.loc[k, status]) for k in kinds]
        axes.barh([labels.get(k, k) for k in kinds], values, left=left, label=status, color=_COLOURS.get(status))
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_xlabel("受助人员数")
    axes.set_title(CHARTS["compliance"])
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncols=4, frameon=False)
    return figure


def place_points(places: pd.Series) -> pd.DataFrame:
    """``lon``, ``lat`` of each place text (county level; NaN where no place is recognised)."""
    from kinmatch.normalize.places import parse_place

    out: list[tuple[float, float]] = []
    for text in places:
        match = parse_place(text) if isinstance(text, str) and text.strip() else None
        ok = match is not None and match.score > 0 and pd.notna(match.lon) and pd.notna(match.lat)
        out.append((float(match.lon), float(match.lat)) if ok else (float("nan"), float("nan")))
    return pd.DataFrame(out, columns=["lon", "lat"], index=places.index)


@_styled
def origin_map(found: pd.DataFrame, flows: pd.DataFrame):
    """A map of found places (``found``: ``lon``, ``lat`` per resident received) and, for
    confirmed pairs (``flows``: ``found_lon``, ``found_lat``, ``home_lon``, ``home_lat``), lines
    from the report's hometown to where the resident was found."""
    from kinmatch.data import load_table

    counties = load_table("counties")
    lon = pd.to_numeric(counties["lon"], errors="coerce")  # the table keeps coordinates as text
    lat = pd.to_numeric(counties["lat"], errors="coerce")
    figure = _figure(7.5, 5.6)
    axes = figure.add_subplot()
    axes.scatter(lon, lat, s=0.8, color="#c8c8c8", linewidths=0, label="_counties")
    for row in flows.dropna(subset=["found_lon", "found_lat", "home_lon", "home_lat"]).itertuples():
        axes.plot([row.home_lon, row.found_lon], [row.home_lat, row.found_lat], color="#8172b3", alpha=0.6,
                  linewidth=1)
    # residents received in the period, and the found end of every line drawn
    ends = flows[["found_lon", "found_lat"]].set_axis(["lon", "lat"], axis=1)
    found = pd.concat([found[["lon", "lat"]], ends], ignore_index=True).dropna()
    axes.scatter(found["lon"], found["lat"], s=22, color="#c44e52", label="发现地", zorder=3)
    homes = flows.dropna(subset=["home_lon", "home_lat"])
    axes.scatter(homes["home_lon"], homes["home_lat"], s=22, marker="^", color="#4c72b0",
                 label=f"来源地（已确认 {len(homes)} 人）", zorder=3)
    axes.set_xlim(73, 135)
    axes.set_ylim(17, 54)
    axes.set_aspect(1.2)
    axes.set_xlabel("经度")
    axes.set_ylabel("纬度")
    axes.set_title(CHARTS["map"])
    axes.legend(loc="lower left")
    return figure


def report_charts(counts) -> dict[str, bytes]:
    """Every chart of a :class:`~kinmatch.report.counts.CampaignCounts`, code → PNG bytes."""
    from kinmatch.report.counts import DEADLINES

    found = place_points(_found_places(counts))
    flows = counts.flows.copy()
    home = place_points(flows["hometown"])
    where = place_points(flows["found_place"])
    flows["home_lon"], flows["home_lat"] = home["lon"], home["lat"]
    flows["found_lon"], flows["found_lat"] = where["lon"], where["lat"]
    return {"stations": station_bars(counts.by_station), "reunions": reunions_chart(counts.by_month),
            "compliance": compliance_chart(counts.compliance, DEADLINES), "map": origin_map(found, flows)}


def _found_places(counts) -> pd.Series:
    return counts.residents["found_place"] if "found_place" in counts.residents else pd.Series(dtype=object)
