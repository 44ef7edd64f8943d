"""Network decisions on pandas frames: allocating scarce DC stock to stores, and placing safety
stock in a DC -> store tree with the guaranteed-service model.

Pure-Python faces (no Spark): the Spark jobs call them once per bucket of SKUs; notebooks and
tests call them directly. The math lives in :mod:`invspark.kernels.allocation` and
:mod:`invspark.kernels.guaranteed_service`; this module checks the input columns, turns the frame
into vectors and the results back into columns.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from invspark.errors import ConfigError, InputDataError
from invspark.kernels import allocation as alloc
from invspark.kernels import guaranteed_service as gsm

ALLOCATION_INPUT_COLUMNS = ("sku_id", "dc_id", "location_id", "available_units", "demand_mean", "demand_std")
#: Columns :func:`allocate` adds (all double). The first four are the ``allocation`` table's.
ALLOCATION_OUTPUT_SCHEMA = {
    "requested_units": "double",
    "allocated_units": "double",
    "fair_share_units": "double",
    "expected_units_sold": "double",
    "expected_units_sold_fair_share": "double",
}
PLACEMENT_INPUT_COLUMNS = ("sku_id", "location_id", "source_id", "processing_time", "holding_cost", "demand_std", "z")
#: Columns :func:`place_safety_stock` adds.
PLACEMENT_OUTPUT_SCHEMA = {
    "echelon": "string",
    "pooled_demand_std": "double",
    "service_time_in": "double",
    "service_time_out": "double",
    "net_lead_time": "double",
    "safety_stock": "double",
    "safety_stock_holding_cost": "double",
}
#: Columns of :func:`placement_summary`, one row per SKU.
PLACEMENT_SUMMARY_SCHEMA = {
    "sku_id": "string",
    "total_cost": "double",
    "single_echelon_cost": "double",
    "saving": "double",
}


@dataclass(frozen=True)
class AllocationSettings:
    """Settings of :func:`allocate`.

    ``stockout_probability``: a store requests the smallest whole-case quantity ``q`` with
    ``P(D > on_hand + q) <= stockout_probability`` (when no ``requested_units`` is given).
    ``max_candidates_per_batch``: candidate cases sorted at once (bounds memory, not results).
    """

    stockout_probability: float = 0.05
    max_candidates_per_batch: int = 4_000_000

    def __post_init__(self) -> None:
        if not 0.0 < self.stockout_probability < 1.0:
            raise ConfigError(
                f"allocation.stockout_probability must be between 0 and 1 (exclusive), got "
                f"{self.stockout_probability!r}; e.g. 0.05 asks for 95% cover over the horizon"
            )
        if self.max_candidates_per_batch < 1:
            raise ConfigError(
                f"allocation.max_candidates_per_batch must be a positive integer, got {self.max_candidates_per_batch!r}"
            )


# ----------------------------------------------------------------------------------------------
# input checks


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], face: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputDataError(
            f"{face}: frame is missing required column(s) {missing}; it has {reprlib.repr(list(frame.columns))}. "
            f"Add them (see CONTRACTS.md, Pure-Python faces)"
        )


def _keys_not_null(frame: pd.DataFrame, columns: tuple[str, ...], face: str) -> None:
    for column in columns:
        bad = frame[column].isna().to_numpy()
        if bad.any():
            raise InputDataError(
                f"{face}: column {column!r} is null in {int(bad.sum())} row(s) (first at index "
                f"{reprlib.repr(frame.index[bad][:5].tolist())}); every row needs a key"
            )


def _no_duplicates(frame: pd.DataFrame, columns: list[str], face: str) -> None:
    duplicated = frame.duplicated(columns, keep=False).to_numpy()
    if duplicated.any():
        examples = frame.loc[duplicated, columns].head(3).to_dict("records")
        raise InputDataError(
            f"{face}: {int(duplicated.sum())} rows share their {columns} key, e.g. {reprlib.repr(examples)}; "
            "keep one row per key"
        )


def _numbers(
    frame: pd.DataFrame,
    column: str,
    face: str,
    *,
    default: float | None = None,
    minimum: float | None = 0.0,
    allow_null: bool = False,
) -> np.ndarray:
    """Column as float64 ``(n,)``. Absent column -> ``default`` (``NaN`` when None); nulls become
    ``default`` unless ``allow_null``; values below ``minimum`` raise ``InputDataError``."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan if default is None else default, dtype=np.float64)
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise InputDataError(f"{face}: column {column!r} must be numeric ({error}); cast it to double") from error
    null = np.isnan(values)
    if null.any() and not allow_null:
        if default is None:
            raise InputDataError(
                f"{face}: column {column!r} is null in {int(null.sum())} row(s) (first at index "
                f"{reprlib.repr(frame.index[null][:5].tolist())}); fill it"
            )
        values = np.where(null, default, values)
    if minimum is not None:
        below = values < minimum
        if below.any():
            raise InputDataError(
                f"{face}: column {column!r} must be >= {minimum}, got {reprlib.repr(np.unique(values[below])[:5].tolist())} "
                f"at index {reprlib.repr(frame.index[below][:5].tolist())}; fix those rows"
            )
    return values


def _whole_numbers(values: np.ndarray, column: str, face: str, frame: pd.DataFrame) -> np.ndarray:
    fractional = np.isfinite(values) & (np.abs(values - np.round(values)) > 1e-9)
    if fractional.any():
        raise InputDataError(
            f"{face}: column {column!r} must hold whole periods, got {reprlib.repr(np.unique(values[fractional])[:5].tolist())} "
            f"at index {reprlib.repr(frame.index[fractional][:5].tolist())}; round up (np.ceil) to whole periods"
        )
    return np.round(values)


def _distribution_codes(frame: pd.DataFrame, face: str) -> np.ndarray:
    if "distribution" not in frame.columns:
        return np.full(len(frame), alloc.NORMAL, dtype=np.int64)
    names = frame["distribution"].astype("string").str.lower().fillna("normal")
    codes = names.map({name: code for code, name in enumerate(alloc.DISTRIBUTIONS)})
    unknown = codes.isna().to_numpy()
    if unknown.any():
        raise InputDataError(
            f"{face}: column 'distribution' has unsupported value(s) {reprlib.repr(sorted(set(names[unknown])))}; "
            f"use one of {list(alloc.DISTRIBUTIONS)} (null = normal)"
        )
    return codes.to_numpy(dtype=np.int64)


def _constant_within_groups(values: np.ndarray, starts: np.ndarray, column: str, face: str) -> None:
    """``values`` sorted by group, ``starts`` each group's first index: raise if a group varies."""
    low = np.minimum.reduceat(values, starts)
    high = np.maximum.reduceat(values, starts)
    varying = np.flatnonzero(high - low > 1e-9)
    if varying.size:
        raise InputDataError(
            f"{face}: column {column!r} differs between the rows of {varying.size} sku x DC group(s); it must be "
            f"the same on every row of a sku x DC (first group values {low[varying[0]]!r} .. {high[varying[0]]!r})"
        )


# ----------------------------------------------------------------------------------------------
# allocation


def allocate(frame: pd.DataFrame, settings: AllocationSettings = AllocationSettings()) -> pd.DataFrame:
    """Allocate each DC's scarce stock of each SKU to its stores, one row per sku x DC x store.

    Input columns: ``sku_id``, ``dc_id``, ``location_id``, ``available_units`` (the DC's supply of
    the SKU, the same on each of its rows), ``demand_mean``, ``demand_std`` (store demand over the
    allocation horizon); optional ``distribution`` (``normal`` | ``poisson`` | ``negbin`` |
    ``gamma``, null = normal; Poisson ignores ``demand_std``, a negbin without over-dispersion is
    treated as Poisson), ``on_hand`` (default/null 0), ``unit_margin`` (default/null 1),
    ``case_pack`` (default/null 1, whole units, the same on every row of a sku x DC),
    ``capacity_units`` (null = no limit; a store never gets more than ``capacity - on_hand``),
    ``requested_units`` (e.g. the policy's order-up-to level minus on hand; null = computed).

    Output: the input plus

    - ``requested_units``: the given request, or else the smallest ``q`` with ``P(D > on_hand +
      q) <= settings.stockout_probability``; rounded up to whole cases and capped by capacity.
    - ``allocated_units``: if the DC covers all requests of the group, the requests; otherwise
      the whole cases that maximize expected margin sold, ``sum m_i E[min(D_i, on_hand_i +
      q_i)]`` with ``q_i <= requested_units_i`` and ``sum q_i <= available_units``, found by the
      greedy marginal-value rule (optimal here, see :mod:`invspark.kernels.allocation`).
    - ``fair_share_units``: the common rule, proportional to requests in whole cases
      (largest-remainder rounding), the same caps.
    - ``expected_units_sold`` = ``E[min(D, on_hand + allocated_units)]`` and
      ``expected_units_sold_fair_share`` = the same under fair share, so the gain is visible.
    """
    face = "allocate"
    _require_columns(frame, ALLOCATION_INPUT_COLUMNS, face)
    _keys_not_null(frame, ("sku_id", "dc_id", "location_id"), face)
    _no_duplicates(frame, ["sku_id", "dc_id", "location_id"], face)
    out = frame.copy()
    if len(frame) == 0:
        for column in ALLOCATION_OUTPUT_SCHEMA:
            out[column] = pd.Series(dtype=np.float64)
        return out

    available = _numbers(frame, "available_units", face)
    mean = _numbers(frame, "demand_mean", face)
    std = _numbers(frame, "demand_std", face)
    on_hand = _numbers(frame, "on_hand", face, default=0.0)
    unit_margin = _numbers(frame, "unit_margin", face, default=1.0)
    case_pack = _numbers(frame, "case_pack", face, default=1.0, minimum=1.0)
    case_pack = _whole_numbers(case_pack, "case_pack", face, frame)
    capacity = _numbers(frame, "capacity_units", face, allow_null=True)
    given_request = _numbers(frame, "requested_units", face, allow_null=True, minimum=None)
    code = alloc.effective_distribution(mean, std, _distribution_codes(frame, face))

    # Rows of a sku x DC contiguous: group codes, then a stable sort by them.
    group_of_row = frame.groupby(["sku_id", "dc_id"], sort=False, observed=True).ngroup().to_numpy(dtype=np.int64)
    order = np.argsort(group_of_row, kind="stable")  # sorted position -> input row
    group = group_of_row[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])  # (n_groups,)
    _constant_within_groups(available[order], starts, "available_units", face)
    _constant_within_groups(case_pack[order], starts, "case_pack", face)

    requested = alloc.requested_units(
        settings.stockout_probability, mean, std, code, on_hand, case_pack, capacity, given_request
    )
    pack = case_pack[order]
    requested_cases = np.round(requested[order] / pack).astype(np.int64)
    available_cases = np.floor(available[order][starts] / pack[starts] + 1e-9).astype(np.int64)  # (n_groups,)
    allocated_cases = alloc.allocate_marginal_value(
        group,
        available_cases,
        requested_cases,
        on_hand[order],
        pack,
        unit_margin[order],
        mean[order],
        std[order],
        code[order],
        max_candidates=settings.max_candidates_per_batch,
    )
    fair_cases = alloc.allocate_fair_share(group, available_cases, requested_cases)

    allocated = np.empty(len(frame))
    allocated[order] = allocated_cases * pack
    fair_share = np.empty(len(frame))
    fair_share[order] = fair_cases * pack
    out["requested_units"] = requested
    out["allocated_units"] = allocated
    out["fair_share_units"] = fair_share
    out["expected_units_sold"] = alloc.expected_sales(on_hand + allocated, mean, std, code)
    out["expected_units_sold_fair_share"] = alloc.expected_sales(on_hand + fair_share, mean, std, code)
    return out


# ----------------------------------------------------------------------------------------------
# safety-stock placement


@dataclass(frozen=True)
class _Network:
    """A frame's forest as per-row vectors ``(n,)`` ready for the GSM kernel."""

    parent_index: np.ndarray
    internal: np.ndarray
    processing_time: np.ndarray
    external_service_time: np.ndarray
    max_service_time_out: np.ndarray
    holding_cost: np.ndarray
    sigma: np.ndarray
    z: np.ndarray


def _network(frame: pd.DataFrame) -> _Network:
    face = "place_safety_stock"
    _require_columns(frame, PLACEMENT_INPUT_COLUMNS, face)
    _keys_not_null(frame, ("sku_id", "location_id"), face)
    _no_duplicates(frame, ["sku_id", "location_id"], face)
    nodes = pd.MultiIndex.from_arrays([frame["sku_id"], frame["location_id"]])
    sources = pd.MultiIndex.from_arrays([frame["sku_id"], frame["source_id"]])
    # A source that is not a node of the same SKU (null, or a vendor) makes the row a root.
    parent_index = nodes.get_indexer(sources).astype(np.int64)
    parent_index[frame["source_id"].isna().to_numpy()] = -1
    internal = gsm.has_children(parent_index)
    root = parent_index < 0

    processing_time = _whole_numbers(_numbers(frame, "processing_time", face), "processing_time", face, frame)
    external = _numbers(frame, "external_service_time", face, allow_null=True)
    missing_external = root & np.isnan(external)
    if missing_external.any():
        raise InputDataError(
            f"{face}: column 'external_service_time' is null at {int(missing_external.sum())} top node(s) "
            f"(rows {reprlib.repr(frame.index[missing_external][:5].tolist())}, whose source_id is null or not a "
            "location of the same SKU); give the supplier's committed service time in periods there"
        )
    external = _whole_numbers(np.where(root, external, 0.0), "external_service_time", face, frame)
    max_out = _numbers(frame, "max_service_time_out", face, allow_null=True)
    # Null promise: stores (leaves) promise immediate service, DCs are unconstrained.
    max_out = np.floor(np.where(np.isnan(max_out), np.where(internal, np.inf, 0.0), max_out) + 1e-9)
    holding_cost = _numbers(frame, "holding_cost", face)
    z = _numbers(frame, "z", face)
    demand_std = _numbers(frame, "demand_std", face, allow_null=True)
    leaf_std = np.where(np.isnan(demand_std), 0.0, demand_std)  # a leaf without demand needs no stock
    depth = gsm.node_depth(parent_index)
    return _Network(
        parent_index=parent_index,
        internal=internal,
        processing_time=processing_time,
        external_service_time=external,
        max_service_time_out=max_out,
        holding_cost=holding_cost,
        sigma=gsm.pooled_demand_std(parent_index, depth, leaf_std),
        z=z,
    )


def _plan(network: _Network, service_time_out: np.ndarray) -> dict[str, np.ndarray]:
    return gsm.evaluate_service_times(
        network.parent_index,
        service_time_out,
        network.processing_time,
        network.external_service_time,
        network.holding_cost,
        network.sigma,
        network.z,
    )


def _optimal_service_times(network: _Network) -> np.ndarray:
    return gsm.optimize_service_times(
        network.parent_index,
        network.processing_time,
        network.external_service_time,
        network.max_service_time_out,
        network.holding_cost,
        network.sigma,
        network.z,
    )


def place_safety_stock(frame: pd.DataFrame) -> pd.DataFrame:
    """Guaranteed-service safety-stock placement per SKU on its DC -> store tree.

    One row per sku x node: ``sku_id``, ``location_id``, ``source_id`` (the parent node of the
    same SKU; null, or an id that is not a location of that SKU such as a vendor, marks a top
    node), ``processing_time`` (whole periods from the parent's shipment to availability here),
    ``external_service_time`` (top nodes: the supplier's committed service time, whole periods),
    optional ``max_service_time_out`` (promised service time; null = 0 at stores, unlimited at
    DCs), ``holding_cost`` (per unit per period), ``demand_std`` (per period, read at stores
    only; null = no demand; a DC's is pooled from the stores below it), ``z`` (safety factor).
    Trees may have any number of levels.

    Output: the input plus ``echelon`` (``dc`` for a node that supplies others, else
    ``store``), ``pooled_demand_std``, ``service_time_in``, ``service_time_out`` (the optimal
    integer service times of the Graves-Willems DP), ``net_lead_time`` = in + processing - out,
    ``safety_stock`` = ``z pooled_demand_std sqrt(net_lead_time)`` and
    ``safety_stock_holding_cost`` = ``holding_cost * safety_stock``.
    """
    out = frame.copy()
    if len(frame) == 0:
        for column, kind in PLACEMENT_OUTPUT_SCHEMA.items():
            out[column] = pd.Series(dtype="string" if kind == "string" else np.float64)
        return out
    network = _network(frame)
    service_time_out = _optimal_service_times(network)
    plan = _plan(network, service_time_out)
    out["echelon"] = np.where(network.internal, "dc", "store")
    out["pooled_demand_std"] = network.sigma
    out["service_time_in"] = plan["service_time_in"]
    out["service_time_out"] = service_time_out
    out["net_lead_time"] = plan["net_lead_time"]
    out["safety_stock"] = plan["safety_stock"]
    out["safety_stock_holding_cost"] = plan["holding_cost"]
    return out


def placement_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per SKU: ``total_cost`` (holding cost per period of the optimal placement's safety
    stock), ``single_echelon_cost`` (the same when every location plans alone: each DC quotes
    service time 0 and covers its inbound plus processing time, each store covers its own
    replenishment time ``processing_time`` less its promise, see
    :func:`invspark.kernels.guaranteed_service.single_echelon_service_times`) and ``saving`` =
    single-echelon minus optimal (``>= 0``: the single-echelon plan is feasible). Same input as
    :func:`place_safety_stock`."""
    if len(frame) == 0:
        return pd.DataFrame({column: pd.Series(dtype="string" if kind == "string" else np.float64)
                             for column, kind in PLACEMENT_SUMMARY_SCHEMA.items()})
    network = _network(frame)
    optimal = _plan(network, _optimal_service_times(network))
    single = _plan(
        network,
        gsm.single_echelon_service_times(
            network.parent_index, network.processing_time, network.external_service_time, network.max_service_time_out
        ),
    )
    sku_code, skus = pd.factorize(frame["sku_id"])
    total = np.bincount(sku_code, weights=optimal["holding_cost"], minlength=len(skus))
    single_cost = np.bincount(sku_code, weights=single["holding_cost"], minlength=len(skus))
    return pd.DataFrame(
        {"sku_id": skus, "total_cost": total, "single_echelon_cost": single_cost, "saving": single_cost - total}
    )
