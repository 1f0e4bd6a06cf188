"""Great-circle distance, the one formula every part of kinmatch measures with.

Hand-written because it is a few lines of numpy and every geography library pulls in far more.

    >>> round(float(haversine_km(116.40, 39.90, 121.47, 31.23)))
    1067
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0
"""Mean earth radius used for every distance kinmatch computes (bands, candidate reach, texts)."""


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (vectorized; NaN where a
    coordinate is missing)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    return haversine_radians(lon1, lat1, np.cos(lat1), lon2, lat2, np.cos(lat2))


def haversine_radians(lon1, lat1, cos_lat1, lon2, lat2, cos_lat2) -> np.ndarray:
    """:func:`haversine_km` on coordinates already in radians with the cosines of the latitudes
    (computed once per record when many pairs reuse them)."""
    a = np.sin((lat2 - lat1) / 2) ** 2 + cos_lat1 * cos_lat2 * np.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_KM * 2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
