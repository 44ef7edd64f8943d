"""The input tables of `../shared/CONTRACTS.md`: each column's Spark SQL type and whether it is required."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class InputColumn:
    name: str
    sql_type: str  # Spark SQL type name used with try_cast
    required: bool = False


def _cols(*specs: tuple[str, str, bool]) -> tuple[InputColumn, ...]:
    return tuple(InputColumn(name, sql_type, required) for name, sql_type, required in specs)


INPUT_COLUMNS: dict[str, tuple[InputColumn, ...]] = {
    "sales": _cols(
        ("sku_id", "string", True),
        ("location_id", "string", True),
        ("date", "date", True),
        ("units", "double", True),
        ("price", "double", False),
        ("promo", "int", False),
        ("on_hand", "double", False),
        ("revenue", "double", False),
    ),
    "items": _cols(
        ("sku_id", "string", True),
        ("category", "string", False),
        ("subcategory", "string", False),
        ("unit_cost", "double", False),
        ("unit_price", "double", False),
        ("case_pack", "int", False),
        ("moq", "double", False),
        ("holding_cost_rate", "double", False),
        ("ordering_cost", "double", False),
        ("service_level_target", "double", False),
        ("policy", "string", False),
    ),
    "locations": _cols(
        ("location_id", "string", True),
        ("location_type", "string", False),
        ("source_id", "string", False),
        ("review_period", "double", False),
        ("capacity_units", "double", False),
        ("safety_stock_budget", "double", False),
    ),
    "inventory": _cols(
        ("sku_id", "string", True),
        ("location_id", "string", True),
        ("on_hand", "double", True),
        ("on_order", "double", False),
        ("backorders", "double", False),
    ),
    "receipts": _cols(
        ("sku_id", "string", True),
        ("location_id", "string", True),
        ("order_date", "date", True),
        ("receipt_date", "date", True),
        ("source_id", "string", False),
        ("qty_ordered", "double", False),
        ("qty_received", "double", False),
    ),
    "dc_supply": _cols(
        ("sku_id", "string", True),
        ("dc_id", "string", True),
        ("available_units", "double", True),
    ),
    "promotions": _cols(
        ("sku_id", "string", True),
        ("location_id", "string", True),
        ("date", "date", True),
        ("promo", "int", False),
        ("price", "double", False),
    ),
}

# Columns that identify one row; a second row with the same key is a duplicate.
INPUT_KEYS: dict[str, tuple[str, ...]] = {
    "sales": ("sku_id", "location_id", "date"),
    "items": ("sku_id",),
    "locations": ("location_id",),
    "inventory": ("sku_id", "location_id"),
    "receipts": ("sku_id", "location_id", "order_date", "receipt_date", "source_id"),
    "dc_supply": ("sku_id", "dc_id"),
    "promotions": ("sku_id", "location_id", "date"),
}
