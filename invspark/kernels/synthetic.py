"""Synthetic retail data: demand, prices, promotions, stock and orders for a block of series.

Everything here is numpy over `(n_series_in_block, n_periods)` matrices; the Spark layer
(`invspark/spark/generate.py`) calls it once per block on the executors and only turns the
arrays into Arrow batches. Nothing about a series is ever computed on the driver.

Determinism. Two kinds of randomness, both independent of how blocks are spread over tasks:

* entity attributes shared by many series (an item's cost, category, launch period and promo
  calendar; a store's size and review period; store closures) are counter-based: a SplitMix64
  hash of `(seed, stream, index...)` turned into a uniform, so any block can recompute exactly
  the attributes of the SKUs and stores it touches;
* everything drawn per series (demand class, level, noise, stock simulation) comes from
  `np.random.default_rng(SeedSequence(seed, spawn_key=(stream, block_id)))`.

Demand model (per series i, period t), after Syntetos & Boylan (2005), "The accuracy of
intermittent demand estimates", Int. J. Forecasting 21(2), and the categorisation of
Syntetos, Boylan & Croston (2005), J. Oper. Res. Soc. 56(5) (cut-offs ADI 1.32, CV² 0.49):

    d[i, t] = B[i, t] * Y[i, t],          B ~ Bernoulli(p_i)       (demand occurrence)
    Y[i, t] = 1 + NegBin(mean = mu[i, t] - 1, dispersion r_i)      (demand size >= 1)
    mu[i, t] = max(1, m_i * season[i, t] * weekday[i, t] * trend[i, t] * price[i, t] * lift[i, t])

so E d = p * mu and the size CV² at the base level m_i is `size_cv2_i`. The negative binomial is
the gamma-Poisson mixture: Y - 1 ~ Poisson(lambda), lambda ~ Gamma(shape r, scale (mu - 1) / r). Smooth and erratic series have p close to 1 (ADI < 1.32),
intermittent and lumpy p in [0.12, 0.6]; smooth and intermittent sizes have CV² well below 0.49,
erratic and lumpy well above.

Stock (censoring) comes from simulating a periodic-review order-up-to (R, S) policy per store
(Silver, Pyke & Thomas 2017, "Inventory and Production Management in Supply Chains",
4th ed., ch. 6): sales = min(demand, on hand), so periods that end with
on_hand == 0 are stockouts whose observed sales are a lower bound on demand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
from scipy.special import ndtri  # standard normal quantile; far lighter to import than scipy.stats

from invspark.errors import ConfigError
from invspark.kernels import service_policies

FREQUENCIES = ("D", "W", "M")
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
# Intended share of each demand class (Syntetos-Boylan categories), in DEMAND_CLASSES order.
DEMAND_CLASS_MIX = (0.35, 0.20, 0.30, 0.15)
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49

# Category: (share of SKUs, yearly seasonal amplitude, day of year of the seasonal peak).
CATEGORIES = {
    "grocery": (0.30, 0.10, 350),
    "beverages": (0.15, 0.35, 200),
    "snacks": (0.15, 0.20, 355),
    "household": (0.15, 0.08, 90),
    "personal_care": (0.13, 0.12, 160),
    "frozen": (0.12, 0.30, 190),
}
SUBCATEGORIES_PER_CATEGORY = 4
CASE_PACKS = (1, 6, 12, 24)
CASE_PACK_SHARES = (0.35, 0.30, 0.25, 0.10)
SERVICE_LEVEL_TARGETS = (0.90, 0.95, 0.98, 0.99)
# Day-of-week profile of daily demand, Monday .. Sunday (mean 1).
WEEKDAY_PROFILE = np.array([0.85, 0.80, 0.85, 0.95, 1.15, 1.35, 1.05])
HORIZON = {"D": 28, "W": 13, "M": 6}
PERIOD_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
STORES_PER_DC = 35
ASSORTMENT_DENSITY = 0.7  # share of all SKUs a store carries
DEFAULT_START = {"D": dt.date(2022, 1, 3), "W": dt.date(2022, 1, 3), "M": dt.date(2022, 1, 1)}
EPOCH = dt.date(1970, 1, 1)

# Hash streams: one per independent attribute, so attributes are uncorrelated.
_S_ITEM, _S_STORE, _S_CLOSED, _S_PROMO, _S_PAIR = 1, 2, 3, 4, 5
_S_SERIES_BLOCK, _S_PAIR_BLOCK, _S_BAD_ROWS = 11, 12, 13


# ----------------------------------------------------------------------------------------------
# The plan: sizes and the period grid, fixed by (n_series, n_periods, frequency, seed).
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GeneratorPlan:
    """Everything every block needs to know; small and picklable (shipped to the executors).

    Network: `n_stores = clamp(round(sqrt(n_series) / 2), 2, 5000)` (at most n_series), one DC
    per `STORES_PER_DC` stores (at least one), and `n_skus ~ series_per_store / 0.7` so that
    each store carries about 70% of the SKUs (assortment). Series i is the k-th SKU of
    store s = i % n_stores, k = i // n_stores, sku = (offset(s) + k) % n_skus with
    offset(s) = s * n_skus // n_stores: unique (sku, store) pairs and every SKU sold somewhere.
    """

    n_series: int
    n_periods: int
    frequency: str = "W"
    seed: int = 0
    start_date: dt.date | None = None
    block_size: int = 2000
    n_planned: int = 13  # periods after run_date with planned promotions (>= 13)

    def __post_init__(self) -> None:
        if not isinstance(self.n_series, (int, np.integer)) or self.n_series < 1:
            raise ConfigError(f"n_series must be an integer >= 1, got {self.n_series!r}")
        if not isinstance(self.n_periods, (int, np.integer)) or self.n_periods < 2:
            raise ConfigError(
                f"n_periods must be an integer >= 2 (periods of history), got {self.n_periods!r}"
            )
        if self.frequency not in FREQUENCIES:
            raise ConfigError(
                f"frequency must be one of {FREQUENCIES} (daily, weekly, monthly), "
                f"got {self.frequency!r}"
            )
        if not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")
        if not isinstance(self.block_size, (int, np.integer)) or self.block_size < 1:
            raise ConfigError(f"block_size must be an integer >= 1, got {self.block_size!r}")
        start = self.start_date or DEFAULT_START[self.frequency]
        if isinstance(start, dt.datetime) or not isinstance(start, dt.date):
            raise ConfigError(
                f"start_date must be a datetime.date, got {self.start_date!r}; "
                "pass e.g. datetime.date(2022, 1, 3)"
            )
        if self.frequency == "M" and start.day != 1:
            raise ConfigError(
                f"start_date must be the first day of a month for frequency 'M', got {start}; "
                f"use {start.replace(day=1)}"
            )
        object.__setattr__(self, "start_date", start)
        object.__setattr__(self, "n_planned", max(13, int(self.n_planned), HORIZON[self.frequency]))

    # -- network sizes -------------------------------------------------------------------------
    @property
    def n_stores(self) -> int:
        return int(min(self.n_series, np.clip(round(math.sqrt(self.n_series) / 2), 2, 5000)))

    @property
    def series_per_store(self) -> int:
        return -(-self.n_series // self.n_stores)

    @property
    def n_skus(self) -> int:
        """About series_per_store / 0.7, but at most n_stores * (fewest series at a store), so
        that consecutive assortment windows overlap and every SKU is carried somewhere."""
        most = self.n_stores * (self.n_series // self.n_stores)
        return int(max(self.series_per_store, min(math.ceil(self.series_per_store / ASSORTMENT_DENSITY), most)))

    @property
    def n_dcs(self) -> int:
        return max(1, -(-self.n_stores // STORES_PER_DC))

    @property
    def n_vendors(self) -> int:
        return int(np.clip(-(-self.n_skus // 100), 1, 999))

    @property
    def n_blocks(self) -> int:
        return -(-self.n_series // self.block_size)

    @property
    def n_pair_blocks(self) -> int:
        return -(-(self.n_skus * self.n_dcs) // self.block_size)

    @property
    def horizon(self) -> int:
        """Suggested forecast horizon in periods."""
        return HORIZON[self.frequency]

    # -- period grid ---------------------------------------------------------------------------
    def period_days(self, n: int) -> np.ndarray:
        """Days since 1970-01-01 of periods 0 .. n-1, `(n,)` int64 (period n_periods = run_date).

        D: every day; W: every 7 days from start_date (same weekday); M: first day of month.
        """
        start = np.datetime64(self.start_date, "D")
        steps = np.arange(n)
        if self.frequency == "D":
            days = start + steps
        elif self.frequency == "W":
            days = start + 7 * steps
        else:
            days = (start.astype("datetime64[M]") + steps).astype("datetime64[D]")
        return days.astype(np.int64)

    @property
    def run_date(self) -> dt.date:
        return _to_date(self.period_days(self.n_periods + 1)[-1])

    @property
    def id_widths(self) -> tuple[int, int, int, int]:
        """Zero-padding of SKU, store, DC and vendor numbers in their ids."""
        return (
            max(5, len(str(self.n_skus - 1))),
            max(4, len(str(self.n_stores - 1))),
            max(2, len(str(self.n_dcs - 1))),
            max(2, len(str(self.n_vendors))),
        )


def _to_date(days: int | np.integer) -> dt.date:
    return EPOCH + dt.timedelta(days=int(days))


def sku_ids(plan: GeneratorPlan, sku_index: np.ndarray) -> np.ndarray:
    """'SKU00042' for sku index 42, `(n,)` str."""
    return _ids("SKU", sku_index, plan.id_widths[0])


def store_ids(plan: GeneratorPlan, store_index: np.ndarray) -> np.ndarray:
    return _ids("ST", store_index, plan.id_widths[1])


def dc_ids(plan: GeneratorPlan, dc_index: np.ndarray) -> np.ndarray:
    return _ids("DC", dc_index, plan.id_widths[2])


def vendor_ids(plan: GeneratorPlan, vendor_index: np.ndarray) -> np.ndarray:
    """'V01' for vendor index 0 (vendors are numbered from 1)."""
    return _ids("V", np.asarray(vendor_index) + 1, plan.id_widths[3])


def _ids(prefix: str, index: np.ndarray, width: int) -> np.ndarray:
    digits = np.char.zfill(np.asarray(index, dtype=np.int64).astype(str), width)
    return np.char.add(prefix, digits)


# ----------------------------------------------------------------------------------------------
# Counter-based uniforms (SplitMix64, Steele, Lea & Flood 2014, "Fast splittable pseudorandom
# number generators", OOPSLA) for attributes shared across blocks.
# ----------------------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def hashed_uniform(seed: int, stream: int, *keys: np.ndarray) -> np.ndarray:
    """U(0, 1) as a pure function of (seed, stream, keys...); broadcast shape of the keys."""
    h = _mix64(np.asarray([seed], dtype=np.uint64) * _GOLDEN + np.uint64(stream))
    for key in keys:
        h = _mix64(h ^ (np.asarray(key).astype(np.uint64) + _GOLDEN))
    out = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return out.reshape(np.broadcast_shapes(*[np.shape(k) for k in keys]))


# ----------------------------------------------------------------------------------------------
# Network and entity attributes
# ----------------------------------------------------------------------------------------------


def store_offset(plan: GeneratorPlan, store_index: np.ndarray) -> np.ndarray:
    """First SKU (before wrap-around) of a store's assortment window, `(n,)` int64."""
    return np.asarray(store_index, dtype=np.int64) * plan.n_skus // plan.n_stores


def series_network(plan: GeneratorPlan, series_index: np.ndarray) -> dict[str, np.ndarray]:
    """SKU, store and DC index of global series indices, each `(n,)` int64."""
    series_index = np.asarray(series_index, dtype=np.int64)
    store = series_index % plan.n_stores
    rank = series_index // plan.n_stores  # the series' rank in its store's assortment
    sku = (store_offset(plan, store) + rank) % plan.n_skus
    return {"sku": sku, "store": store, "dc": dc_of_store(plan, store)}


def dc_of_store(plan: GeneratorPlan, store_index: np.ndarray) -> np.ndarray:
    """Stores are split into `n_dcs` contiguous groups of about STORES_PER_DC."""
    return np.asarray(store_index, dtype=np.int64) * plan.n_dcs // plan.n_stores


def series_at_store(plan: GeneratorPlan, store_index: np.ndarray) -> np.ndarray:
    """How many series (SKUs carried) each store has, `(n,)` int64."""
    store_index = np.asarray(store_index, dtype=np.int64)
    return (plan.n_series - store_index + plan.n_stores - 1) // plan.n_stores


def item_attributes(plan: GeneratorPlan, sku_index: np.ndarray) -> dict[str, np.ndarray]:
    """The `items` columns plus the hidden SKU drivers, each `(n,)`, from hashed uniforms.

    unit_cost ~ lognormal(log 3.5, 0.8); unit_price = cost * U(1.25, 2.15); case_pack in
    (1, 6, 12, 24); moq 0 for 85% of SKUs; holding_cost_rate U(0.2, 0.3) per year;
    service_level_target NaN (none) for 90%. Hidden: popularity ~ lognormal(0, 0.7); 10% of SKUs
    launch inside the history, 8% are discontinued inside it; 60% of SKUs run promotions at a
    rate U(0.03, 0.12) per period with discount U(0.1, 0.4).
    """
    sku_index = np.asarray(sku_index, dtype=np.int64)
    u = [hashed_uniform(plan.seed, _S_ITEM, sku_index, np.full_like(sku_index, j)) for j in range(24)]
    names = list(CATEGORIES)
    shares = np.cumsum([CATEGORIES[c][0] for c in names])
    category = np.minimum(np.searchsorted(shares / shares[-1], u[0], side="right"), len(names) - 1)
    subcategory = np.floor(u[1] * SUBCATEGORIES_PER_CATEGORY).astype(np.int64)
    unit_cost = np.round(np.exp(np.log(3.5) + 0.8 * ndtri(u[2])), 2).clip(0.05)
    unit_price = np.maximum(np.round(unit_cost * (1.25 + 0.9 * u[3]), 2), unit_cost + 0.01)
    case_pack = np.asarray(CASE_PACKS)[
        np.minimum(np.searchsorted(np.cumsum(CASE_PACK_SHARES), u[4], side="right"), 3)
    ]
    moq = np.where(u[5] < 0.15, case_pack * (2 + np.floor(u[6] * 3)), 0.0)
    service_level = np.where(
        u[7] < 0.10, np.asarray(SERVICE_LEVEL_TARGETS)[np.floor(u[8] * 4).astype(int)], np.nan
    )
    T = plan.n_periods
    is_new = u[9] < 0.10
    launch = np.where(is_new, np.floor(T * (0.2 + 0.6 * u[10])), 0).astype(np.int64)
    end = np.where(u[11] < 0.08, np.floor(T * (0.5 + 0.45 * u[12])), T + plan.n_planned)
    end = np.maximum(end, launch + 2).astype(np.int64)
    return {
        "category": np.asarray(names)[category],
        "category_code": category,
        "subcategory": np.char.add(
            np.char.add(np.asarray(names)[category], "_"), np.char.zfill(subcategory.astype(str), 2)
        ),
        "unit_cost": unit_cost,
        "unit_price": unit_price,
        "case_pack": case_pack.astype(np.int32),
        "moq": moq.astype(np.float64),
        "holding_cost_rate": np.round(0.2 + 0.1 * u[13], 3),
        "ordering_cost": np.round(5.0 + 45.0 * u[14], 2),
        "service_level_target": service_level,
        "popularity": np.exp(0.7 * ndtri(u[15])),
        "launch_period": launch,
        "end_period": end,  # exclusive; >= n_periods + n_planned means never discontinued
        "promo_rate": np.where(u[16] > 0.4, 0.03 + 0.09 * u[17], 0.0),
        "promo_discount": 0.1 + 0.3 * u[18],
        "vendor": np.floor(u[19] * plan.n_vendors).astype(np.int64),
        "vendor_lead_days": 7.0 + 14.0 * u[20],
        "vendor_lead_cv": 0.2 + 0.2 * u[21],
    }


def store_attributes(plan: GeneratorPlan, store_index: np.ndarray) -> dict[str, np.ndarray]:
    """Store drivers, each `(n,)`: size ~ lognormal(0, 0.5), review_period 2 for 20% else 1,
    price index U(0.97, 1.03), capacity_units = SKUs carried * U(40, 120)."""
    store_index = np.asarray(store_index, dtype=np.int64)
    u = [hashed_uniform(plan.seed, _S_STORE, store_index, np.full_like(store_index, j)) for j in range(4)]
    return {
        "size": np.exp(0.5 * ndtri(u[0])),
        "review_period": np.where(u[1] < 0.2, 2.0, 1.0),
        "price_index": 0.97 + 0.06 * u[2],
        "capacity_units": np.round(series_at_store(plan, store_index) * (40.0 + 80.0 * u[3])),
    }


def store_closed(plan: GeneratorPlan, store_index: np.ndarray, n_periods: int) -> np.ndarray:
    """Store-periods with no sales recorded at all (store closed or feed down), `(n, n_periods)`.

    About 1% of store-periods (0.4% for daily data, where every store is also closed on
    25 December).
    """
    store_index = np.asarray(store_index, dtype=np.int64)
    periods = np.arange(n_periods)
    rate = {"D": 0.004, "W": 0.01, "M": 0.005}[plan.frequency]
    closed = hashed_uniform(plan.seed, _S_CLOSED, store_index[:, None], periods[None, :]) < rate
    if plan.frequency == "D":
        days = plan.period_days(n_periods).astype("datetime64[D]")
        month_day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
        month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        closed |= ((month == 12) & (month_day == 25))[None, :]
    return closed


def location_table(plan: GeneratorPlan, location_index: np.ndarray) -> dict[str, np.ndarray]:
    """`locations` columns for indices 0..n_stores-1 (stores) and n_stores.. (DCs)."""
    location_index = np.asarray(location_index, dtype=np.int64)
    is_store = location_index < plan.n_stores
    store = np.where(is_store, location_index, 0)
    dc = np.where(is_store, dc_of_store(plan, store), location_index - plan.n_stores)
    attrs = store_attributes(plan, store)
    dc_capacity = np.round(plan.n_skus * (500.0 + 1000.0 * hashed_uniform(plan.seed, _S_STORE, dc, -1)))
    dc_names = dc_ids(plan, dc)
    return {
        "location_id": np.where(is_store, store_ids(plan, store), dc_names),
        "location_type": np.where(is_store, "store", "dc"),
        "source_id": np.where(is_store, dc_names, None).astype(object),
        "review_period": np.where(is_store, attrs["review_period"], 1.0),
        "capacity_units": np.where(is_store, attrs["capacity_units"], dc_capacity),
    }


# ----------------------------------------------------------------------------------------------
# Series block: demand, prices, promotions and the stock simulation
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SeriesBlock:
    """One block of series; matrices are `(n, n_periods + n_planned)` unless noted.

    History is columns `[:n_periods]`; the rest are the planned periods after run_date.
    Stock matrices (`units`, `on_hand`, `qty_ordered`, ...) are `(n, n_periods)`.
    """

    series_index: np.ndarray  # (n,)
    sku: np.ndarray  # (n,)
    store: np.ndarray  # (n,)
    dc: np.ndarray  # (n,)
    demand_class: np.ndarray  # (n,) int codes into DEMAND_CLASSES
    occurrence_prob: np.ndarray  # (n,)
    size_mean: np.ndarray  # (n,) base demand size m
    size_cv2: np.ndarray  # (n,)
    nb_dispersion: np.ndarray  # (n,) r
    seasonal_amplitude: np.ndarray  # (n,)
    trend_change: np.ndarray  # (n,) relative change of level over the history
    promo_lift: np.ndarray  # (n,)
    price_elasticity: np.ndarray  # (n,)
    safety_factor: np.ndarray  # (n,)
    launch: np.ndarray  # (n,) first period of the series' life
    end: np.ndarray  # (n,) first period after its life (exclusive)
    alive: np.ndarray  # (n, T+H) bool
    closed: np.ndarray  # (n, T+H) bool: store closed (history only)
    promo: np.ndarray  # (n, T+H) bool
    price: np.ndarray  # (n, T+H) shelf price (promo price on promo periods)
    expected_demand: np.ndarray  # (n, T+H) E d[i, t]
    demand: np.ndarray  # (n, T+H) realised true demand
    units: np.ndarray  # (n, T) observed sales = min(demand, on hand)
    on_hand: np.ndarray  # (n, T) end-of-period stock
    qty_ordered: np.ndarray  # (n, T) order placed at the end of period t (0 = none)
    qty_received: np.ndarray  # (n, T)
    lead_days: np.ndarray  # (n, T) days from order to receipt
    on_order: np.ndarray  # (n,) in transit at run_date
    backorders: np.ndarray  # (n,)

    @property
    def n_periods(self) -> int:
        return self.units.shape[1]

    @property
    def mean_level(self) -> np.ndarray:
        """True base per-period mean demand p * m (before season, trend, price, promo), `(n,)`."""
        return self.occurrence_prob * self.size_mean


def block_rng(plan: GeneratorPlan, stream: int, block_id: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=(stream, int(block_id))))


def block_series_index(plan: GeneratorPlan, block_id: int) -> np.ndarray:
    if not 0 <= block_id < plan.n_blocks:
        raise ConfigError(f"block_id must be in [0, {plan.n_blocks}), got {block_id}")
    return np.arange(block_id * plan.block_size, min((block_id + 1) * plan.block_size, plan.n_series))


def nb_dispersion_for(size_mean: np.ndarray, size_cv2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dispersion r of Y = 1 + NegBin(mean m - 1, r) with CV²(Y) = c: Var Y = (m-1) + (m-1)²/r
    = c m², so r = (m-1)² / (c m² - (m-1)). The NegBin variance cannot go below its mean
    (Poisson), so c is raised to at least 1.02 (m-1)/m². Returns (r, achieved c), `(n,)` each."""
    excess = size_mean - 1.0
    cv2 = np.maximum(size_cv2, 1.02 * excess / size_mean**2)
    over = cv2 * size_mean**2 - excess
    return np.where(excess > 0, excess**2 / np.maximum(over, 1e-12), 1.0), cv2


def _class_parameters(
    rng: np.random.Generator, demand_class: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occurrence probability p, base size m and size CV² per series by demand class, `(n,)`."""
    n = demand_class.size
    #                 smooth  erratic  intermittent  lumpy
    p_low = np.array([0.95, 0.93, 0.12, 0.12])[demand_class]
    p_high = np.array([1.00, 1.00, 0.60, 0.60])[demand_class]
    base = np.array([10.0, 8.0, 3.0, 5.0])[demand_class]
    floor = np.array([4.0, 3.0, 1.5, 2.5])[demand_class]
    ceiling = np.array([np.inf, np.inf, 8.0, np.inf])[demand_class]
    cv2_low = np.array([0.02, 0.9, 0.02, 0.9])[demand_class]
    cv2_high = np.array([0.15, 2.0, 0.20, 2.5])[demand_class]
    occurrence = p_low + (p_high - p_low) * rng.random(n)
    size_mean = np.clip(base * scale, floor, ceiling)
    size_cv2 = cv2_low + (cv2_high - cv2_low) * rng.random(n)
    return occurrence, size_mean, size_cv2


def generate_series_block(plan: GeneratorPlan, block_id: int) -> SeriesBlock:
    """Generate block `block_id` (series `block_id * block_size ...`): see the module docstring."""
    rng = block_rng(plan, _S_SERIES_BLOCK, block_id)
    index = block_series_index(plan, block_id)
    net = series_network(plan, index)
    item = item_attributes(plan, net["sku"])
    store = store_attributes(plan, net["store"])
    n, T, H = index.size, plan.n_periods, plan.n_planned
    TH = T + H
    t = np.arange(TH)
    days = plan.period_days(TH)  # (TH,)

    # demand class and its parameters
    demand_class = rng.choice(4, size=n, p=DEMAND_CLASS_MIX)
    freq_scale = {"D": 1 / 7, "W": 1.0, "M": 4.35}[plan.frequency]
    scale = (item["popularity"] * store["size"] * freq_scale)
    occurrence, size_mean, size_cv2 = _class_parameters(rng, demand_class, scale)
    dispersion, size_cv2 = nb_dispersion_for(size_mean, size_cv2)

    # multiplicative effects on the size mean, (n, TH)
    cat_amp = np.array([CATEGORIES[c][1] for c in CATEGORIES])[item["category_code"]]
    cat_peak = np.array([CATEGORIES[c][2] for c in CATEGORIES])[item["category_code"]]
    amplitude = cat_amp * (0.5 + rng.random(n))
    peak = cat_peak + 10.0 * rng.standard_normal(n)
    day_of_year = (days - days.astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64))
    # cos(a - b) = cos a cos b + sin a sin b: two outer products instead of a cos per cell
    angle_t, angle_i = 2 * np.pi * day_of_year / 365.25, 2 * np.pi * peak / 365.25
    season = 1.0 + amplitude[:, None] * (
        np.cos(angle_i)[:, None] * np.cos(angle_t)[None, :] + np.sin(angle_i)[:, None] * np.sin(angle_t)[None, :]
    )
    if plan.frequency == "D":
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        strength = 0.5 + 0.7 * rng.random(n)
        profile = WEEKDAY_PROFILE[None, :] ** strength[:, None]  # (n, 7)
        season = season * profile[:, weekday]
    has_trend = rng.random(n) < 0.3
    trend_change = np.where(has_trend, -0.4 + rng.random(n), 0.0)
    trend = np.maximum(0.2, 1.0 + trend_change[:, None] * t[None, :] / T)
    base_price = np.round(item["unit_price"] * store["price_index"], 2)
    has_step = rng.random(n) < 0.25
    step_at = rng.integers(1, TH, size=n)
    step_factor = np.where(has_step, 0.85 + 0.30 * rng.random(n), 1.0)
    regular_price = np.round(
        base_price[:, None] * np.where(t[None, :] >= step_at[:, None], step_factor[:, None], 1.0), 2
    )
    elasticity = 1.0 + 1.5 * rng.random(n)
    # constant-elasticity response to the regular price step (promo price is in the lift)
    step_effect = (np.round(base_price * step_factor, 2) / base_price) ** -elasticity  # (n,)
    price_effect = np.where(t[None, :] >= step_at[:, None], step_effect[:, None], 1.0)
    on_promo_calendar = hashed_uniform(plan.seed, _S_PROMO, net["sku"][:, None], t[None, :]) < item["promo_rate"][:, None]
    joins_promos = rng.random(n) < 0.85
    promo = on_promo_calendar & joins_promos[:, None]
    lift = 1.3 + 1.7 * rng.random(n)
    price = np.where(promo, np.round(regular_price * (1 - item["promo_discount"][:, None]), 2), regular_price)
    mu = np.maximum(
        1.0, size_mean[:, None] * season * trend * price_effect * np.where(promo, lift[:, None], 1.0)
    )

    # life and closures
    stagger = np.where(item["launch_period"] > 0, rng.integers(0, 3, size=n), 0)
    launch = np.minimum(item["launch_period"] + stagger, T - 1)
    end = np.maximum(item["end_period"], launch + 2)
    alive = (t[None, :] >= launch[:, None]) & (t[None, :] < end[:, None])
    closed = np.zeros((n, TH), dtype=bool)
    closed[:, :T] = store_closed(plan, net["store"], T)
    open_alive = alive & ~closed

    # demand: Bernoulli occurrence x (1 + NegBin) size
    excess = mu - 1.0
    r = dispersion[:, None]
    occurs = open_alive & (rng.random((n, TH)) < occurrence[:, None])
    rows, cols = np.nonzero(occurs)  # draw sizes only where demand occurs
    demand = np.zeros((n, TH))
    demand[rows, cols] = 1.0 + rng.negative_binomial(dispersion[rows], dispersion[rows] / (dispersion[rows] + excess[rows, cols]))
    expected = np.where(open_alive, occurrence[:, None] * mu, 0.0)
    size_var = excess + excess**2 / r
    demand_std = np.where(open_alive, np.sqrt(occurrence[:, None] * size_var + occurrence[:, None] * (1 - occurrence[:, None]) * mu**2), 0.0)

    # stock: periodic review order-up-to, store supplied from its DC in 1-3 days
    review = store["review_period"].astype(np.int64)
    phase = rng.integers(0, 2, size=n) % review
    lead_days = 1 + rng.binomial(2, 0.35, size=(n, T))
    lead_periods = lead_days if plan.frequency == "D" else np.ones((n, T), dtype=np.int64)
    mean_lead = 1.7 if plan.frequency == "D" else 1.0
    cover = mean_lead + review
    safety_factor = np.where(rng.random(n) < 0.7, 0.8 + 1.5 * rng.random(n), -0.5 + 1.3 * rng.random(n))
    order_up_to = np.maximum(
        0.0,
        expected[:, :T] * cover[:, None] + safety_factor[:, None] * demand_std[:, :T] * np.sqrt(cover)[:, None],
    )
    order_days = open_alive[:, :T] & ((t[None, :T] % review[:, None]) == phase[:, None])
    order_days &= t[None, :T] < (end[:, None] - 1)
    fill = np.where(rng.random((n, T)) < 0.95, 1.0, 0.5 + 0.5 * rng.random((n, T)))
    sim = simulate_order_up_to(
        demand[:, :T], order_up_to, order_days, lead_periods, fill, item["case_pack"].astype(np.float64), launch
    )
    stocked_out = sim["on_hand"][:, -1] == 0
    backorders = np.where(stocked_out & (rng.random(n) < 0.3), 1.0 + rng.poisson(np.maximum(expected[:, T - 1], 0.5)), 0.0)
    alive_at_end = end > T
    return SeriesBlock(
        series_index=index, sku=net["sku"], store=net["store"], dc=net["dc"],
        demand_class=demand_class, occurrence_prob=occurrence, size_mean=size_mean,
        size_cv2=size_cv2, nb_dispersion=dispersion, seasonal_amplitude=amplitude,
        trend_change=trend_change, promo_lift=lift, price_elasticity=elasticity,
        safety_factor=safety_factor, launch=launch, end=end, alive=alive, closed=closed,
        promo=promo & alive, price=price, expected_demand=expected, demand=demand,
        units=sim["units"], on_hand=sim["on_hand"], qty_ordered=sim["qty_ordered"],
        qty_received=sim["qty_received"], lead_days=lead_days.astype(np.int64),
        on_order=np.where(alive_at_end, sim["on_order"], 0.0),
        backorders=np.where(alive_at_end, backorders, 0.0),
    )


def simulate_order_up_to(
    demand: np.ndarray,
    order_up_to: np.ndarray,
    order_days: np.ndarray,
    lead_periods: np.ndarray,
    fill_fraction: np.ndarray,
    case_pack: np.ndarray,
    start_period: np.ndarray,
) -> dict[str, np.ndarray]:
    """Periodic-review order-up-to (R, S) stock simulation with lost sales, vectorized over series.

    Silver, Pyke & Thomas (2017), ch. 6. Each period t: the stock for a series starting at
    `start_period` is set to S rounded up to whole case packs; orders due at t arrive; sales =
    min(demand, on hand) (the excess is lost); on review days the order
    q = ceil(max(S - (on hand + on order), 0) / case_pack) * case_pack is placed and
    floor(q * fill_fraction) arrives `lead_periods` later.

    demand, order_up_to, fill_fraction: `(n, T)` float; order_days: `(n, T)` bool;
    lead_periods: `(n, T)` int >= 1; case_pack: `(n,)`; start_period: `(n,)` int.
    Returns units, on_hand, qty_ordered, qty_received `(n, T)` and on_order `(n,)`.
    """
    n, T = demand.shape
    rows = np.arange(n)
    width = int(lead_periods.max(initial=1)) + 1
    pipeline = np.zeros((n, width))  # slot (t % width) holds what arrives at the start of t
    on_order = np.zeros(n)  # = pipeline.sum(axis=1), kept running
    on_hand = np.zeros(n)
    out = {k: np.zeros((n, T)) for k in ("units", "on_hand", "qty_ordered", "qty_received")}
    may_order = order_days & (np.arange(T)[None, :] != start_period[:, None])  # (n, T)
    for t in range(T):
        slot = t % width
        starts = start_period == t
        if starts.any():
            on_hand = np.where(starts, np.ceil(order_up_to[:, t] / case_pack) * case_pack, on_hand)
        arriving = pipeline[:, slot]
        on_hand = on_hand + arriving
        on_order -= arriving
        pipeline[:, slot] = 0.0
        sold = np.minimum(demand[:, t], on_hand)
        on_hand = on_hand - sold
        shortfall = np.maximum(order_up_to[:, t] - on_hand - on_order, 0.0) * may_order[:, t]
        ordered = np.ceil(shortfall / case_pack) * case_pack
        received = np.floor(ordered * fill_fraction[:, t])
        pipeline[rows, (t + lead_periods[:, t]) % width] += received
        on_order += received
        out["units"][:, t] = sold
        out["on_hand"][:, t] = on_hand
        out["qty_ordered"][:, t] = ordered
        out["qty_received"][:, t] = received
    out["on_order"] = pipeline.sum(axis=1)
    return out


# ----------------------------------------------------------------------------------------------
# Rows of the series tables
# ----------------------------------------------------------------------------------------------

BAD_ROW_KINDS = ("null_sku_id", "negative_units", "null_date", "duplicate")


@dataclasses.dataclass
class SalesRows:
    """Flat sales rows of a block: `series_pos` indexes the block's series, `period` the grid."""

    series_pos: np.ndarray
    period: np.ndarray
    units: np.ndarray
    price: np.ndarray
    promo: np.ndarray  # int32
    on_hand: np.ndarray
    revenue: np.ndarray
    null_sku_id: np.ndarray  # bool masks
    null_date: np.ndarray
    bad_counts: dict[str, int]


def sales_rows(plan: GeneratorPlan, block: SeriesBlock, block_id: int, bad_row_rate: float = 0.0) -> SalesRows:
    """Rows of `sales` for a block: every open, alive history period with units > 0 or a stockout
    (on_hand == 0, kept even with 0 units), in (series, period) order. `bad_row_rate` of the rows
    are then spoiled, a quarter each: sku_id null, units negative, date null, or the row written
    twice (the copy appended at the end); the counts are in `bad_counts`."""
    T = block.n_periods
    present = block.alive[:, :T] & ~block.closed[:, :T] & ((block.units > 0) | (block.on_hand == 0))
    pos, period = np.nonzero(present)  # row-major: sorted by series, then period
    units = block.units[pos, period]
    price = block.price[pos, period]
    rows = SalesRows(
        series_pos=pos, period=period, units=units, price=price,
        promo=block.promo[pos, period].astype(np.int32), on_hand=block.on_hand[pos, period],
        revenue=np.round(units * price, 2), null_sku_id=np.zeros(pos.size, bool),
        null_date=np.zeros(pos.size, bool), bad_counts=dict.fromkeys(BAD_ROW_KINDS, 0),
    )
    if bad_row_rate > 0:
        _spoil(rows, block_rng(plan, _S_BAD_ROWS, block_id), bad_row_rate)
    return rows


def _spoil(rows: SalesRows, rng: np.random.Generator, rate: float) -> None:
    n = rows.units.size
    counts = rng.binomial(n, rate / len(BAD_ROW_KINDS), size=len(BAD_ROW_KINDS))
    counts = np.minimum(counts, n // len(BAD_ROW_KINDS))
    chosen = rng.choice(n, size=int(counts.sum()), replace=False)
    null_sku, negative, null_date, duplicate = np.split(chosen, np.cumsum(counts)[:-1])
    rows.null_sku_id[null_sku] = True
    rows.units[negative] = -np.maximum(rows.units[negative], 1.0)
    rows.revenue[negative] = np.round(rows.units[negative] * rows.price[negative], 2)
    rows.null_date[null_date] = True
    for name in ("series_pos", "period", "units", "price", "promo", "on_hand", "revenue", "null_sku_id", "null_date"):
        column = getattr(rows, name)
        setattr(rows, name, np.concatenate([column, column[duplicate]]))
    rows.bad_counts = dict(zip(BAD_ROW_KINDS, (int(c) for c in counts)))


def promotion_rows(block: SeriesBlock) -> tuple[np.ndarray, np.ndarray]:
    """(series_pos, period) of promoted periods in the series' life: past ones and the planned
    ones after run_date (periods >= n_periods). Read price from `block.price`."""
    return np.nonzero(block.promo)


def store_order_rows(block: SeriesBlock) -> tuple[np.ndarray, np.ndarray]:
    """(series_pos, period) of the store orders placed at the end of each period."""
    return np.nonzero(block.qty_ordered > 0)


def spoil_receipt_dates(
    plan: GeneratorPlan, block_id: int, n_rows: int, bad_row_rate: float
) -> np.ndarray:
    """Boolean mask `(n_rows,)` of receipts to write with receipt_date before order_date
    (rate bad_row_rate / 4, like each kind of bad sales row)."""
    if bad_row_rate <= 0 or n_rows == 0:
        return np.zeros(n_rows, dtype=bool)
    rng = block_rng(plan, _S_BAD_ROWS + 100, block_id)
    return rng.random(n_rows) < bad_row_rate / len(BAD_ROW_KINDS)


# ----------------------------------------------------------------------------------------------
# DC side: vendor orders per (sku, DC) and DC supply
# ----------------------------------------------------------------------------------------------


def dc_carries(plan: GeneratorPlan, sku_index: np.ndarray, dc_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether any store of the DC carries the SKU, and how many stores do, `(n,)` each.

    The DC's stores are the contiguous range {s : s * n_dcs // n_stores == dc}; store s carries
    sku j when (j - offset(s)) mod n_skus < series_at_store(s).
    """
    first = -(-np.asarray(dc_index) * plan.n_stores // plan.n_dcs)
    last = -(-(np.asarray(dc_index) + 1) * plan.n_stores // plan.n_dcs)  # exclusive
    width = int((last - first).max(initial=1))
    stores = first[:, None] + np.arange(width)[None, :]  # (n, width)
    valid = stores < last[:, None]
    stores = np.where(valid, stores, 0)
    rank = (np.asarray(sku_index)[:, None] - store_offset(plan, stores)) % plan.n_skus
    carried = valid & (rank < series_at_store(plan, stores))
    n_stores = carried.sum(axis=1)
    return n_stores > 0, n_stores


@dataclasses.dataclass
class VendorOrders:
    """Vendor -> DC purchase orders: one entry per order."""

    sku: np.ndarray
    dc: np.ndarray
    vendor: np.ndarray
    order_day: np.ndarray  # days since epoch
    receipt_day: np.ndarray
    qty_ordered: np.ndarray
    qty_received: np.ndarray


def vendor_orders_block(plan: GeneratorPlan, block_id: int) -> VendorOrders:
    """Purchase orders from vendors to DCs for pair block `block_id` of the (sku, DC) pairs.

    Each carried pair orders every c periods (W: 2-4, D: 7-14, M: 1) on a random phase;
    lead time in days ~ lognormal with the SKU's vendor mean (7-21 days) and CV (0.2-0.4),
    and 5% late outliers at 1.5-3x. Quantity: about c periods of the DC's demand
    (popularity x stores carrying x 6 units per week), rounded up to case packs; 97% filled in
    full. Orders whose receipt would fall on or after run_date are not yet received and omitted.
    """
    rng = block_rng(plan, _S_PAIR_BLOCK, block_id)
    pair = np.arange(block_id * plan.block_size, min((block_id + 1) * plan.block_size, plan.n_skus * plan.n_dcs))
    sku, dc = pair // plan.n_dcs, pair % plan.n_dcs
    carried, n_carrying = dc_carries(plan, sku, dc)
    sku, dc, n_carrying = sku[carried], dc[carried], n_carrying[carried]
    item = item_attributes(plan, sku)
    n, T = sku.size, plan.n_periods
    low, high = {"D": (7, 15), "W": (2, 5), "M": (1, 2)}[plan.frequency]
    cadence = rng.integers(low, high, size=n)
    phase = rng.integers(0, 1 << 30, size=n) % cadence
    t = np.arange(T)
    orders = (t[None, :] % cadence[:, None] == phase[:, None]) & (t[None, :] >= item["launch_period"][:, None] - 1)
    orders &= t[None, :] < item["end_period"][:, None] - 1
    pos, period = np.nonzero(orders)
    k = pos.size
    sigma = np.sqrt(np.log1p(item["vendor_lead_cv"] ** 2))[pos]
    mu = np.log(item["vendor_lead_days"][pos]) - sigma**2 / 2
    lead = np.exp(mu + sigma * rng.standard_normal(k))
    lead = np.where(rng.random(k) < 0.05, lead * (1.5 + 1.5 * rng.random(k)), lead)
    lead = np.maximum(1, np.round(lead)).astype(np.int64)
    order_day = plan.period_days(T)[period] + rng.integers(0, max(1, int(PERIOD_DAYS[plan.frequency])), size=k)
    receipt_day = order_day + lead
    per_period = item["popularity"] * n_carrying * 6.0 * PERIOD_DAYS[plan.frequency] / 7
    case_pack = item["case_pack"].astype(np.float64)
    qty = np.ceil(np.maximum(per_period * cadence * (0.8 + 0.4 * rng.random(n)), 1) / case_pack) * case_pack
    qty_ordered = qty[pos]
    qty_received = np.where(rng.random(k) < 0.97, qty_ordered, np.floor(qty_ordered * (0.5 + 0.5 * rng.random(k))))
    before_run = receipt_day < plan.period_days(T + 1)[-1]
    return VendorOrders(
        sku=sku[pos][before_run], dc=dc[pos][before_run], vendor=item["vendor"][pos][before_run],
        order_day=order_day[before_run], receipt_day=receipt_day[before_run],
        qty_ordered=qty_ordered[before_run], qty_received=qty_received[before_run],
    )


def dc_supply_cover(plan: GeneratorPlan) -> int:
    """Periods of store demand that a DC's supply is measured against (about four weeks)."""
    return {"D": 28, "W": 4, "M": 1}[plan.frequency]


def dc_available_units(plan: GeneratorPlan, sku_index: np.ndarray, dc_index: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DC supply for (sku, DC) pairs, `(n,)` each: (available_units, short).

    `need` is the stores' expected demand over the next `dc_supply_cover` periods (summed over
    the DC's stores). 20% of SKUs are short at every DC: available = floor(need * U(0.3, 0.8));
    the others have floor(need * U(1.3, 2.5)) + 1 units.
    """
    short = hashed_uniform(plan.seed, _S_PAIR, np.asarray(sku_index), -1) < 0.2
    u = hashed_uniform(plan.seed, _S_PAIR, np.asarray(sku_index), np.asarray(dc_index))
    available = np.where(short, np.floor(need * (0.3 + 0.5 * u)), np.floor(need * (1.3 + 1.2 * u)) + 1)
    return available, short


# ----------------------------------------------------------------------------------------------
# Demand classification (to check the generated mix)
# ----------------------------------------------------------------------------------------------


def adi_cv2(demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average demand interval and squared CV of non-zero demand sizes per series, `(n,)` each.

    Syntetos, Boylan & Croston (2005): ADI = periods / periods with demand (NaN = outside the
    series' life, not counted); CV² = (std / mean)² of the non-zero demands (population std).
    Series with no demand get ADI = inf and CV² = NaN. demand: `(n, T)` float with NaN.
    """
    observed = ~np.isnan(demand)
    nonzero = observed & (demand > 0)
    n_periods = observed.sum(axis=1)
    n_nonzero = nonzero.sum(axis=1)
    sizes = np.where(nonzero, demand, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(n_nonzero > 0, n_periods / n_nonzero, np.inf)
        mean = np.nansum(sizes, axis=1) / n_nonzero
        var = np.nansum((sizes - mean[:, None]) ** 2, axis=1) / n_nonzero
        cv2 = np.where(n_nonzero > 0, var / mean**2, np.nan)
    return adi, cv2


def classify_demand(demand: np.ndarray) -> np.ndarray:
    """Syntetos-Boylan class per series as a string `(n,)`: smooth (ADI < 1.32, CV² < 0.49),
    erratic (ADI < 1.32, CV² >= 0.49), intermittent (ADI >= 1.32, CV² < 0.49), lumpy."""
    adi, cv2 = adi_cv2(demand)
    code = 2 * (adi >= ADI_CUTOFF) + (np.nan_to_num(cv2, nan=0.0) >= CV2_CUTOFF)
    return np.asarray(DEMAND_CLASSES)[code]


# ----------------------------------------------------------------------------------------------
# The true demand law over an interval (what a forecaster that knew the generator could know)
# ----------------------------------------------------------------------------------------------


def _interval_sum_draws(block: SeriesBlock, first: int, n_periods: int, intervals: list[np.ndarray], n_draws: int,
                        seed: int, chunk: int):
    """Monte Carlo sums of the generator's demand over ``intervals[j][i]`` periods from each period
    ``first + t``: yields ``(rows, [sums_j (c, n_draws, n_periods)])`` per chunk of ``c`` series.

    The law is the generator's own (module docstring): independent periods of Bernoulli(p)
    occurrence times a ``1 + NegBin(mu - 1, r)`` size, zero outside the series' open life. Every
    interval's sums come from the same draws (a shorter interval's sum is part of a longer one's).
    Periods past the block's last planned one repeat that period's law.
    """
    n = block.series_index.size
    last = block.expected_demand.shape[1] - 1
    span = n_periods + max(int(np.max(interval, initial=1)) for interval in intervals)
    cols = np.minimum(np.arange(first, first + span), last)  # (E,)
    p = block.occurrence_prob
    expected = block.expected_demand[:, cols]  # (n, E): p * mu where the store is open and the item alive, else 0
    mu = np.where(expected > 0, expected / p[:, None], 0.0)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(block.series_index[0]),)))
    start = np.arange(n_periods)
    for lo in range(0, n, chunk):
        rows = slice(lo, min(lo + chunk, n))
        m, r = mu[rows], block.nb_dispersion[rows]  # (c, E), (c,)
        c = m.shape[0]
        occurs = (m[:, None, :] > 0) & (rng.random((c, n_draws, span)) < p[rows, None, None])  # (c, K, E)
        i, k, e = np.nonzero(occurs)
        demand = np.zeros((c, n_draws, span))
        excess = m[i, e] - 1.0
        demand[i, k, e] = 1.0 + rng.negative_binomial(r[i], r[i] / (r[i] + excess))
        cumulative = np.concatenate([np.zeros((c, n_draws, 1)), np.cumsum(demand, axis=2)], axis=2)  # (c, K, E + 1)
        sums = []
        for interval in intervals:
            end = start[None, :] + np.asarray(interval, dtype=np.int64)[rows, None]  # (c, H)
            sums.append(np.take_along_axis(cumulative, np.broadcast_to(end[:, None, :], (c, n_draws, n_periods)), axis=2)
                        - cumulative[:, :, :n_periods])  # (c, K, H)
        yield rows, sums


def interval_demand_quantiles(
    block: SeriesBlock,
    first: int,
    n_periods: int,
    interval: np.ndarray,
    levels,
    n_draws: int = 2000,
    seed: int = 0,
    chunk: int = 250,
    with_cdf: bool = False,
):
    """Quantiles of the true demand over ``interval[i]`` periods from each period ``first + t``,
    ``(k, n, n_periods)`` for the ``k`` ``levels``: the smallest whole number ``q`` with
    ``P(d[i, first + t] + ... + d[i, first + t + interval[i] - 1] <= q) >= level``. With
    ``with_cdf`` also the draws' ``P(D <= q)`` and ``P(D <= q - 1)``, each ``(k, n, n_periods)``
    (what pooling a segment's CSL target needs, kernels.pooled_service).

    The generator's law (:func:`_interval_sum_draws`) has no closed form over several periods, so
    the quantile is the ``ceil(level * n_draws)``-th order statistic of ``n_draws`` Monte Carlo
    sums (the inverse of the empirical CDF; Hyndman & Fan 1996, definition 1), drawn in chunks of
    ``chunk`` series. An RS policy whose order-up-to level is this quantile of the
    protection-interval demand (``interval`` = lead time + review period) is the textbook policy of
    a forecaster that knew the true distribution: what no estimated distribution can beat on
    calibration.
    """
    levels = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    out = np.empty((levels.size, block.series_index.size, n_periods))
    cdf_at, cdf_below = np.empty_like(out), np.empty_like(out)
    rank = np.clip(np.ceil(levels * n_draws).astype(np.int64) - 1, 0, n_draws - 1)  # (k,)
    for rows, (sums,) in _interval_sum_draws(block, first, n_periods, [np.asarray(interval)], n_draws, seed, chunk):
        sums.sort(axis=1)  # (c, n_draws, H)
        out[:, rows, :] = np.moveaxis(sums[:, rank, :], 1, 0)  # (k, c, H)
        if with_cdf:
            for j in range(levels.size):  # counts of draws at or below q and q - 1, (c, H) each
                q = out[j, rows, :][:, None, :]  # (c, 1, H)
                cdf_at[j, rows, :] = (sums <= q).mean(axis=1)
                cdf_below[j, rows, :] = (sums <= q - 1.0).mean(axis=1)
    return (out, cdf_at, cdf_below) if with_cdf else out


def interval_demand_fill_rate_levels(
    block: SeriesBlock,
    first: int,
    n_periods: int,
    lead: np.ndarray,
    review: np.ndarray,
    levels,
    n_draws: int = 2000,
    seed: int = 0,
    chunk: int = 250,
    with_fill: bool = False,
):
    """Order-up-to levels of an (R,S) policy that meet fill-rate ``levels`` under the generator's
    true law, ``(k, n, n_periods)``: from each period ``first + t``, the smallest whole number S
    with

        beta(S) = 1 - (E[(X_{L+R} - S)^+] - E[(X_L - S)^+]) / E[D_R] >= level,

    X_L and X_{L+R} the demand over ``lead[i]`` and ``lead[i] + review[i]`` periods and D_R =
    X_{L+R} - X_L (SPP 4th ed. §6.9, the backorder fill rate of an (R,S) system; the formula of
    invspark's own ``kernels.service_policies.fill_rate_rs``), expectations over ``n_draws``
    Monte Carlo paths (:func:`_interval_sum_draws`). 0 where no demand is expected over the review
    period. beta is non-decreasing in S, so S is found by the policies' own bisection on whole
    numbers (``kernels.service_policies.smallest_level_meeting``).

    With ``with_fill`` also beta(S) and beta(S - 1), each ``(k, n, n_periods)``, and E[D_R], the
    mean demand over the review period, ``(n, n_periods)`` (what pooling a segment's fill-rate
    target needs, kernels.pooled_service; beta = 1 where E[D_R] = 0).
    """
    levels = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    lead = np.asarray(lead, dtype=np.int64)
    out = np.empty((levels.size, block.series_index.size, n_periods))
    fill_at, fill_below = np.empty_like(out), np.empty_like(out)
    review_demand = np.empty(out.shape[1:])
    for rows, (lead_sums, sums) in _interval_sum_draws(block, first, n_periods, [lead, lead + np.asarray(review)],
                                                       n_draws, seed, chunk):
        cells = sums.shape[0], n_periods
        lead_excess, excess = _ExcessOverLevel(lead_sums), _ExcessOverLevel(sums)
        per_review = excess.mean - lead_excess.mean  # (c H,)
        safe = np.where(per_review > 0, per_review, 1.0)

        def fill_rate(y, at):
            return np.where(per_review[at] > 0, 1.0 - (excess(y, at) - lead_excess(y, at)) / safe[at], 1.0)

        low = np.full(per_review.shape, -1.0)  # beta(-1) = 0
        integral = np.ones(per_review.shape, dtype=bool)
        everywhere = np.arange(per_review.size)
        review_demand[rows, :] = per_review.reshape(cells)
        for j, target in enumerate(levels):
            level = service_policies.smallest_level_meeting(
                lambda y, at, target=target: fill_rate(y, at) >= target,
                low, excess.top, integral)  # beta(top) = 1: no draw is ever short
            level = np.where(per_review > 0, level, 0.0)
            out[j, rows, :] = level.reshape(cells)
            if with_fill:
                fill_at[j, rows, :] = fill_rate(level, everywhere).reshape(cells)
                fill_below[j, rows, :] = fill_rate(level - 1.0, everywhere).reshape(cells)
    return (out, fill_at, fill_below, review_demand) if with_fill else out


class _ExcessOverLevel:
    """E[(X - y)^+] of Monte Carlo draws ``(c, K, H)`` (draws on axis 1), per cell ``(c, H)``
    flattened to ``c H`` rows.

    The draws are sorted once; each call finds the count of draws at or below ``y`` by a binary
    search on the sorted draws of the cells asked, all at once, then reads the sum of the draws
    above it from a cumulative sum: O(log K) per cell and call instead of O(K).
    """

    def __init__(self, draws: np.ndarray):
        self.sorted = np.sort(np.moveaxis(draws, 1, 2).reshape(-1, draws.shape[1]), axis=1)  # (c H, K)
        self.n_draws = draws.shape[1]
        self.cumulative = np.concatenate([np.zeros_like(self.sorted[:, :1]), np.cumsum(self.sorted, axis=1)], axis=1)
        self.mean = self.cumulative[:, -1] / self.n_draws  # (c H,)
        self.top = self.sorted[:, -1]  # (c H,)

    def __call__(self, level: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """E[(X - level)^+] of the flat ``cells``, ``level`` of the same length."""
        below = np.zeros(level.shape, dtype=np.int64)  # draws <= level lie in sorted[cells, :below]
        above = np.full(level.shape, self.n_draws, dtype=np.int64)
        while np.any(below < above):
            open_ = below < above
            middle = (below + above) // 2
            value = self.sorted[cells, np.minimum(middle, self.n_draws - 1)]
            at_or_below = value <= level
            below = np.where(open_ & at_or_below, middle + 1, below)
            above = np.where(open_ & ~at_or_below, middle, above)
        tail = self.cumulative[cells, -1] - self.cumulative[cells, below]
        return (tail - level * (self.n_draws - below)) / self.n_draws
