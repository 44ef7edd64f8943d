"""Turn the real data sets in /work/shared/data into invspark input tables (sales, promotions, items).

    .venv/bin/python scripts/prepare_real_data.py --data /work/shared/data --out build/real_data

writes ``<out>/<dataset>/{sales,promotions,items}.parquet`` with the columns of
/work/shared/CONTRACTS.md ("Inputs"), for three data sets:

- ``frat`` (dunnhumby "Breakfast at the Frat", weekly): UPC x store x week. ``promo`` = 1 when
  the product was featured, on display or on a temporary price reduction; ``price`` = the shelf
  price paid. The ``promotions`` table repeats promo and price for every week that has a row
  (the retailer's plan: in the accuracy report the holdout weeks' plan is given to the forecast).
  ``items`` carries category and the median base price.
- ``online_retail`` (UCI, daily): invoice lines aggregated to StockCode x Country x day.
  Cancellations (InvoiceNo starting with "C") and other negative quantities (returns) are not
  demand and are dropped; so are lines with a non-positive unit price (adjustments, bad debt,
  free samples) and non-product codes (postage, fees, manual adjustments: StockCodes without a
  digit, e.g. POST, DOT, M, BANK CHARGES, AMAZONFEE). Each dropped line is counted by reason.
  StockCodes are upper-cased (``85123a`` and ``85123A`` are the same product).
- ``carparts`` (Hyndman's expsmooth, monthly): part x month, one location ``all``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def frat_tables(data: Path) -> dict[str, pd.DataFrame]:
    """Frat transactions -> sales, promotions, items (weekly, promotion-driven)."""
    transactions = pd.read_parquet(data / "frat" / "transactions.parquet")
    products = pd.read_parquet(data / "frat" / "products.parquet")
    promo = ((transactions[["feature", "display", "tpr_only"]].fillna(0) > 0).any(axis=1)).astype("int32")
    keys = pd.DataFrame({
        "sku_id": transactions["upc_id"].astype(str),
        "location_id": transactions["store_id"].astype(str),
        "date": pd.to_datetime(transactions["week_end_date"]).dt.date,
    })
    sales = keys.assign(units=transactions["units"].astype(float), price=transactions["price"].astype(float), promo=promo)
    promotions = keys.assign(promo=promo, price=transactions["price"].astype(float),
                             base_price=transactions["base_price"].astype(float))
    base_price = transactions.groupby("upc_id")["base_price"].median()
    items = pd.DataFrame({
        "sku_id": products["upc_id"].astype(str),
        "category": products["category"].astype(str),
        "subcategory": products["sub_category"].astype(str),
        "unit_price": products["upc_id"].map(base_price).astype(float),
    })
    return {"sales": sales, "promotions": promotions, "items": items}


def online_retail_tables(data: Path) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Online Retail invoice lines -> daily sales per StockCode x Country, and dropped-line counts."""
    lines = pd.read_parquet(data / "online_retail" / "online_retail_2010_2011.parquet")
    code = lines["StockCode"].astype(str).str.strip().str.upper()
    cancelled = lines["InvoiceNo"].astype(str).str.startswith("C")
    negative = lines["Quantity"] <= 0
    bad_price = lines["UnitPrice"] <= 0
    not_product = ~code.str.contains(r"\d", regex=True)
    reasons = {
        "cancellation (InvoiceNo starts with C)": cancelled,
        "non-positive quantity (return or correction)": negative & ~cancelled,
        "non-positive unit price": bad_price & ~negative & ~cancelled,
        "non-product StockCode (postage, fee, adjustment)": not_product & ~bad_price & ~negative & ~cancelled,
    }
    keep = ~(cancelled | negative | bad_price | not_product)
    counts = {reason: int(mask.sum()) for reason, mask in reasons.items()}
    counts["kept"] = int(keep.sum())
    counts["input"] = len(lines)
    kept = lines[keep]
    frame = pd.DataFrame({
        "sku_id": code[keep],
        "location_id": kept["Country"].astype(str),
        "date": kept["InvoiceDate"].dt.date,
        "units": kept["Quantity"].astype(float),
        "revenue": kept["Quantity"] * kept["UnitPrice"],
    })
    sales = frame.groupby(["sku_id", "location_id", "date"], as_index=False)[["units", "revenue"]].sum()
    sales["price"] = sales["revenue"] / sales["units"]
    items = pd.DataFrame({"sku_id": sales["sku_id"].unique()})
    return {"sales": sales, "items": items}, counts


def carparts_tables(data: Path) -> dict[str, pd.DataFrame]:
    """Car parts monthly demand -> sales (one location)."""
    parts = pd.read_parquet(data / "carparts" / "carparts_monthly.parquet")
    sales = pd.DataFrame({
        "sku_id": parts["part_id"].astype(str),
        "location_id": "all",
        "date": pd.to_datetime(parts["month"]).dt.date,
        "units": parts["units"].astype(float),
    })
    return {"sales": sales, "items": pd.DataFrame({"sku_id": sales["sku_id"].unique()})}


def all_tables(data: Path) -> tuple[dict[str, dict[str, pd.DataFrame]], dict[str, int]]:
    """Every data set's tables, and the Online Retail dropped-line counts."""
    online, counts = online_retail_tables(data)
    return {"frat": frat_tables(data), "online_retail": online, "carparts": carparts_tables(data)}, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=Path("build/real_data"))
    args = parser.parse_args()
    tables, counts = all_tables(args.data)
    for dataset, named in tables.items():
        folder = args.out / dataset
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in named.items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
            print(f"{dataset}/{name}.parquet: {len(frame):,} rows")
    print("online_retail lines:", json.dumps(counts, indent=1))


if __name__ == "__main__":
    main()
