"""The run configuration: one YAML file per run, parsed once at the edge into frozen dataclasses.

The file's keys are those of `../shared/CONTRACTS.md` (`run_date`, `frequency`, `horizon`,
`warehouse`, `inputs.*`) plus the sections of `invspark/defaults/defaults.yaml` (also
`conf/defaults.yaml`), whose values are the defaults. A key the defaults do not list, a missing
required key, an unreadable input path and a bad value all raise `ConfigError` naming the key
and the fix. Only `yaml.safe_load` is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from invspark.errors import ConfigError
from invspark.kernels.censored_demand import RULES as CENSORED_DEMAND
from invspark.kernels.pooled_service import SERVICE_TARGET_SCOPES

FREQUENCIES = ("D", "W", "M")
PERIODS_PER_YEAR = {"D": 365.0, "W": 52.0, "M": 12.0}
INPUT_TABLES = ("sales", "items", "locations", "inventory", "receipts", "dc_supply", "promotions")
INPUT_FORMATS = ("parquet", "csv", "delta")
POLICIES = ("sQ", "RS", "sS", "RsS")
SERVICE_LEVEL_TYPES = ("csl", "fill_rate")
REQUIRED_KEYS = ("run_date", "frequency", "horizon", "warehouse", "inputs")


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """Where one input table lives and how to read it."""

    name: str
    path: str
    format: str
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class BucketConfig:
    series_per_bucket: int
    min_buckets: int
    max_buckets: int

    def n_buckets(self, n_series: int) -> int:
        """Buckets for `n_series` series: about `series_per_bucket` each, within the bounds."""
        wanted = -(-max(n_series, 1) // self.series_per_bucket)
        return int(min(max(wanted, self.min_buckets), self.max_buckets))


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    max_quarantine_fraction: float


@dataclasses.dataclass(frozen=True)
class ForecastConfig:
    quantiles: tuple[float, ...]
    backtest_folds: int
    champion_threshold: float
    level_calibration: bool
    group_seasonality: bool
    history_periods: int | None
    censored_demand: str


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
    default_policy: str
    policy_by_segment: Mapping[str, str]
    service_level_type: str
    service_target_scope: str
    service_level_matrix: Mapping[str, Mapping[str, float]]
    default_lead_time_days: float
    min_lead_time_samples: int
    default_review_period: float
    periods_per_year: float | None


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    enabled: bool
    allocation_horizon_periods: float | None


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    reforecast_every: int | None


@dataclasses.dataclass(frozen=True)
class SparkConfig:
    master: str
    conf: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A whole run's configuration, checked at construction."""

    run_date: dt.date
    frequency: str
    horizon: int
    warehouse: str
    inputs: Mapping[str, InputSpec]
    run_id: str | None
    buckets: BucketConfig
    validation: ValidationConfig
    forecast: ForecastConfig
    policy: PolicyConfig
    network: NetworkConfig
    simulation: SimulationConfig
    spark: SparkConfig
    source: str = "<dict>"

    @property
    def periods_per_year(self) -> float:
        return self.policy.periods_per_year or PERIODS_PER_YEAR[self.frequency]

    @property
    def period_days(self) -> float:
        """Length of one period in days (a month is 365.25 / 12 days)."""
        return {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}[self.frequency]


def default_settings() -> dict[str, Any]:
    """The packaged defaults as a plain dict (a fresh copy each call)."""
    text = resources.files("invspark").joinpath("defaults/defaults.yaml").read_text()
    return yaml.safe_load(text)


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Read a run config YAML file, merge it over the defaults and check every value.

    Relative paths (`warehouse`, `inputs.*.path`) are resolved against the config file's folder.
    `overrides` (e.g. `{"run_date": "2012-01-04"}` from the command line) win over the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass --config with a YAML run config")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of keys, got {type(raw).__name__}")
    raw = {**raw, **dict(overrides or {})}
    return parse_config(raw, base_dir=path.resolve().parent, source=str(path))


def parse_config(raw: Mapping[str, Any], base_dir: Path | None = None, source: str = "<dict>") -> RunConfig:
    """Check a config mapping (already parsed from YAML) and build the typed `RunConfig`."""
    base_dir = base_dir or Path.cwd()
    defaults = default_settings()
    missing = [key for key in REQUIRED_KEYS if key not in raw or raw[key] is None]
    if missing:
        raise ConfigError(
            f"{source}: missing required key(s) {missing}; a run config needs run_date, frequency, "
            "horizon, warehouse and inputs.sales (see ../shared/CONTRACTS.md 'Configuration')"
        )
    allowed_top = set(REQUIRED_KEYS) | set(defaults)
    _reject_unknown(raw, allowed_top, "")
    merged = _merge(defaults, {k: v for k, v in raw.items() if k not in REQUIRED_KEYS}, "")

    frequency = str(raw["frequency"]).upper()
    if frequency not in FREQUENCIES:
        raise ConfigError(f"frequency: must be one of {FREQUENCIES} (daily, weekly, monthly), got {raw['frequency']!r}")
    buckets = merged["buckets"]
    forecast = merged["forecast"]
    policy = merged["policy"]
    return RunConfig(
        run_date=_date(raw["run_date"], "run_date"),
        frequency=frequency,
        horizon=_int(raw["horizon"], "horizon", minimum=1),
        warehouse=_resolve(str(raw["warehouse"]), base_dir),
        inputs=_inputs(raw["inputs"], base_dir),
        run_id=None if merged["run_id"] is None else str(merged["run_id"]),
        buckets=BucketConfig(
            series_per_bucket=_int(buckets["series_per_bucket"], "buckets.series_per_bucket", minimum=1),
            min_buckets=_int(buckets["min_buckets"], "buckets.min_buckets", minimum=1),
            max_buckets=_int(buckets["max_buckets"], "buckets.max_buckets", minimum=1),
        ),
        validation=ValidationConfig(
            max_quarantine_fraction=_fraction(
                merged["validation"]["max_quarantine_fraction"], "validation.max_quarantine_fraction"
            )
        ),
        forecast=ForecastConfig(
            quantiles=_quantiles(forecast["quantiles"]),
            backtest_folds=_int(forecast["backtest_folds"], "forecast.backtest_folds", minimum=1),
            champion_threshold=_fraction(forecast["champion_threshold"], "forecast.champion_threshold"),
            level_calibration=_bool(forecast["level_calibration"], "forecast.level_calibration"),
            group_seasonality=_bool(forecast["group_seasonality"], "forecast.group_seasonality"),
            history_periods=None
            if forecast["history_periods"] is None
            else _int(forecast["history_periods"], "forecast.history_periods", minimum=2),
            censored_demand=_choice(forecast["censored_demand"], CENSORED_DEMAND, "forecast.censored_demand"),
        ),
        policy=PolicyConfig(
            default_policy=_choice(policy["default_policy"], POLICIES, "policy.default_policy"),
            policy_by_segment={
                str(seg): _choice(pol, POLICIES, f"policy.policy_by_segment.{seg}")
                for seg, pol in (policy["policy_by_segment"] or {}).items()
            },
            service_level_type=_choice(policy["service_level_type"], SERVICE_LEVEL_TYPES, "policy.service_level_type"),
            service_target_scope=_choice(policy["service_target_scope"], SERVICE_TARGET_SCOPES,
                                         "policy.service_target_scope"),
            service_level_matrix=_service_matrix(policy["service_level_matrix"]),
            default_lead_time_days=_positive(policy["default_lead_time_days"], "policy.default_lead_time_days"),
            min_lead_time_samples=_int(policy["min_lead_time_samples"], "policy.min_lead_time_samples", minimum=1),
            default_review_period=_positive(policy["default_review_period"], "policy.default_review_period"),
            periods_per_year=None
            if policy["periods_per_year"] is None
            else _positive(policy["periods_per_year"], "policy.periods_per_year"),
        ),
        network=NetworkConfig(
            enabled=_bool(merged["network"]["enabled"], "network.enabled"),
            allocation_horizon_periods=None
            if merged["network"]["allocation_horizon_periods"] is None
            else _positive(merged["network"]["allocation_horizon_periods"], "network.allocation_horizon_periods"),
        ),
        simulation=SimulationConfig(
            reforecast_every=None
            if merged["simulation"]["reforecast_every"] is None
            else _int(merged["simulation"]["reforecast_every"], "simulation.reforecast_every", minimum=1),
        ),
        spark=SparkConfig(
            master=str(merged["spark"]["master"]),
            conf={str(k): str(v) for k, v in (merged["spark"]["conf"] or {}).items()},
        ),
        source=source,
    )


def config_to_yaml(config: RunConfig) -> str:
    """The config as YAML that `load_config` reads back to an equal `RunConfig`."""
    data = dataclasses.asdict(config)
    data.pop("source")
    data["run_date"] = config.run_date.isoformat()
    data["inputs"] = {
        name: {"path": spec.path, "format": spec.format, **({"options": dict(spec.options)} if spec.options else {})}
        for name, spec in config.inputs.items()
    }
    data["forecast"]["quantiles"] = list(config.forecast.quantiles)
    return yaml.safe_dump(data, sort_keys=False)


def _reject_unknown(raw: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean {prefix}{close[0]!r}?" if close else f"; known keys: {sorted(allowed)}"
            raise ConfigError(f"unknown config key {prefix}{key!r}{hint}")


def _merge(defaults: Mapping[str, Any], override: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Deep-merge `override` over `defaults`, rejecting keys the defaults do not have.

    Mappings whose default is an empty mapping or a free-form table (service matrix, spark conf,
    per-segment policies) are taken whole.
    """
    merged = dict(defaults)
    for key, value in override.items():
        if key not in defaults:
            _reject_unknown({key: value}, set(defaults), prefix)
        default = defaults[key]
        free_form = key in ("conf", "policy_by_segment", "service_level_matrix")
        if isinstance(default, dict) and not free_form:
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{key}: must be a mapping of keys, got {value!r}")
            merged[key] = _merge(default, value, f"{prefix}{key}.")
        else:
            merged[key] = value
    return merged


def _inputs(raw: Any, base_dir: Path) -> dict[str, InputSpec]:
    if not isinstance(raw, dict) or "sales" not in raw:
        raise ConfigError("inputs: must be a mapping with at least `sales: {path: ...}`")
    specs = {}
    for name, spec in raw.items():
        if name not in INPUT_TABLES:
            close = difflib.get_close_matches(str(name), INPUT_TABLES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; inputs are {INPUT_TABLES}"
            raise ConfigError(f"unknown input inputs.{name}{hint}")
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or "path" not in spec:
            raise ConfigError(f"inputs.{name}: must be a mapping with a `path` key, got {spec!r}")
        unknown = set(spec) - {"path", "format", "options"}
        if unknown:
            raise ConfigError(f"inputs.{name}: unknown key(s) {sorted(unknown)}; allowed: path, format, options")
        path = _resolve(str(spec["path"]), base_dir)
        fmt = spec.get("format") or _infer_format(path, name)
        if fmt not in INPUT_FORMATS:
            raise ConfigError(f"inputs.{name}.format: must be one of {INPUT_FORMATS}, got {fmt!r}")
        if "://" not in path and not os.path.exists(path):
            raise ConfigError(f"inputs.{name}.path: {path!r} does not exist; fix the path (relative paths are resolved against the config file's folder)")
        options = {str(k): str(v) for k, v in (spec.get("options") or {}).items()}
        specs[name] = InputSpec(name=name, path=path, format=fmt, options=options)
    return specs


def _infer_format(path: str, name: str) -> str:
    lowered = path.rstrip("/").lower()
    if lowered.endswith(".csv") or lowered.endswith(".csv.gz"):
        return "csv"
    if lowered.endswith(".parquet") or lowered.endswith(".pq"):
        return "parquet"
    if os.path.isdir(os.path.join(path, "_delta_log")):
        return "delta"
    if os.path.isdir(path):
        return "parquet"
    raise ConfigError(f"inputs.{name}.format: cannot infer the format of {path!r}; add `format: parquet|csv|delta`")


def _resolve(path: str, base_dir: Path) -> str:
    if "://" in path or os.path.isabs(path):
        return path
    return str((base_dir / path).resolve())


def _date(value: Any, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{key}: must be a date like 2012-01-04, got {value!r}") from None


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}: must be an integer >= {minimum}, got {value!r}")
    return value


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{key}: must be a number > 0, got {value!r}")
    return float(value)


def _fraction(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{key}: must be between 0 and 1, got {value!r}")
    return float(value)


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false, got {value!r}")
    return value


def _choice(value: Any, choices: tuple[str, ...], key: str) -> str:
    if value not in choices:
        raise ConfigError(f"{key}: must be one of {choices}, got {value!r}")
    return str(value)


def _quantiles(value: Any) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"forecast.quantiles: must be a list of levels in (0, 1), got {value!r}")
    levels = tuple(_fraction(v, "forecast.quantiles[]") for v in value)
    if any(not 0 < q < 1 for q in levels) or list(levels) != sorted(set(levels)):
        raise ConfigError(f"forecast.quantiles: must be increasing, distinct levels in (0, 1), got {value!r}")
    return levels


def _service_matrix(value: Any) -> dict[str, dict[str, float]]:
    if not isinstance(value, dict):
        raise ConfigError(f"policy.service_level_matrix: must map ABC class -> XYZ class -> target, got {value!r}")
    matrix: dict[str, dict[str, float]] = {}
    for abc in ("A", "B", "C"):
        row = value.get(abc)
        if not isinstance(row, dict) or set(row) != {"X", "Y", "Z"}:
            raise ConfigError(f"policy.service_level_matrix.{abc}: must have targets for X, Y and Z, got {row!r}")
        matrix[abc] = {}
        for xyz, target in row.items():
            key = f"policy.service_level_matrix.{abc}.{xyz}"
            if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
                raise ConfigError(f"{key}: must be a service level strictly between 0 and 1, got {target!r}")
            matrix[abc][xyz] = float(target)
    return matrix
