"""invspark: probabilistic demand forecasts and inventory decisions for every SKU at every location."""

__version__ = "0.1.0"
