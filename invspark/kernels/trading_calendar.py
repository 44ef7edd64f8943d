"""Periods ahead in which a series' location does not trade: a seasonal phase (a weekday in daily
data) without an observation in each of its last few occurrences.

CONTRACTS.md reads a period in which a location records no sale at all as missing data (store
closed, feed down), so the history of a store that never opens on Sundays is missing on every
Sunday, and a forecast for a future Sunday is demand that cannot happen: summed into the demand
over lead time + review period it adds a day of stock per week. A phase ``p`` of the season (length
``m``) is closed for a series when the series is established (observed before its last
``seasons * m`` periods), trades in those periods, and has no observation at phase ``p`` in any of
its ``seasons`` last occurrences. A feed outage that blanks every phase closes none; a series too
young to show the pattern closes none.
"""

from __future__ import annotations

import numpy as np

CLOSED_PHASE_SEASONS = 4  # occurrences of a phase, all missing, that mark it closed


def closed_periods_ahead(observed: np.ndarray, season_length: int, horizon: int,
                         seasons: int = CLOSED_PHASE_SEASONS) -> np.ndarray:
    """``(n, horizon)`` bool: True where the period ``T + h`` falls on a phase closed for the series.

    ``observed``: ``(n, T)`` bool, True where the series has a value (sales, zero included).
    """
    n, T = observed.shape
    m = int(season_length)
    if m <= 1 or T <= seasons * m:
        return np.zeros((n, horizon), dtype=bool)
    recent = observed[:, T - seasons * m:].reshape(n, seasons, m)  # [i, a, b]: period T - (seasons - a) m + b
    established = observed[:, : T - seasons * m].any(axis=1) & recent.any(axis=(1, 2))  # (n,)
    closed_phase = ~recent.any(axis=1) & established[:, None]  # (n, m): by position b, phase of T + b
    return closed_phase[:, np.arange(horizon) % m]
