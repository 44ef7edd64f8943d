"""Order rounding: minimum order quantity, case pack and capacity, vectorized over series.

All arguments are `(n_series,)` float64 arrays (scalars broadcast).
"""

from __future__ import annotations

import numpy as np

# Relative slack so that 12.000000001 / 6 does not become 3 cases through floating error.
_EPS = 1e-9


def round_up_to_case(quantity, case_pack):
    """The smallest multiple of `case_pack` that is >= `quantity` (quantity <= 0 gives 0)."""
    quantity = np.asarray(quantity, dtype=np.float64)
    case_pack = np.asarray(case_pack, dtype=np.float64)
    cases = np.ceil(quantity / case_pack - _EPS)
    return np.maximum(cases, 0.0) * case_pack


def round_down_to_case(quantity, case_pack):
    """The largest multiple of `case_pack` that is <= `quantity` (quantity <= 0 gives 0)."""
    quantity = np.asarray(quantity, dtype=np.float64)
    case_pack = np.asarray(case_pack, dtype=np.float64)
    cases = np.floor(quantity / case_pack + _EPS)
    return np.maximum(cases, 0.0) * case_pack


def round_order(need, moq, case_pack, capacity_room=None):
    """What to order for a net requirement `need`: (quantity, capped).

    need <= 0 (or NaN) orders nothing. Otherwise the smallest case multiple >= max(need, moq).
    `capacity_room` (units that still fit: capacity - on hand - on order; NaN = unlimited) caps
    the order at the largest case multiple that fits; if that falls below the MOQ nothing can be
    ordered. `capped` is True where the cap cut the order (the caller reports
    'target_unreachable_capacity').

    Returns two `(n_series,)` arrays: quantity (float64) and capped (bool).
    """
    need = np.asarray(need, dtype=np.float64)
    moq = np.nan_to_num(np.asarray(moq, dtype=np.float64), nan=0.0)
    case_pack = np.asarray(case_pack, dtype=np.float64)
    wanted = np.where(need > 0, round_up_to_case(np.maximum(need, moq), case_pack), 0.0)
    if capacity_room is None:
        return wanted, np.zeros(wanted.shape, dtype=bool)
    room = np.asarray(capacity_room, dtype=np.float64)
    fits = round_down_to_case(room, case_pack)
    limited = ~np.isnan(room) & (wanted > fits)
    quantity = np.where(limited, np.where(fits >= moq, fits, 0.0), wanted)
    return quantity, limited
