"""The run's period grid: which date each period index stands for.

Period k of the history is `origin + k` periods, on the sales dates' own grid: daily data steps one
day, weekly data seven days (so it keeps the data's weekday), monthly data one calendar month
(`origin`'s day of month, clipped to the month's last day). The history is the periods strictly
before `run_date`; forecast horizon h (from 1) is the h-th period on or after `run_date`, i.e.
period `n_periods + h - 1`.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt

import numpy as np

SEASON_LENGTH = {"D": 7, "W": 52, "M": 12}


@dataclasses.dataclass(frozen=True)
class PeriodGrid:
    origin: dt.date
    frequency: str
    n_periods: int  # periods of history (all strictly before run_date)

    @classmethod
    def spanning(cls, origin: dt.date, frequency: str, run_date: dt.date) -> "PeriodGrid":
        """The grid from `origin` whose history ends with the last period before `run_date`."""
        if frequency == "D":
            n = (run_date - origin).days
        elif frequency == "W":
            n = -(-(run_date - origin).days // 7)
        else:
            n = (run_date.year - origin.year) * 12 + run_date.month - origin.month
            n += 1 if period_date_monthly(origin, n) < run_date else 0
        return cls(origin=origin, frequency=frequency, n_periods=max(int(n), 0))

    def date(self, k: int) -> dt.date:
        """The date of period index k (k may be >= n_periods: future periods)."""
        if self.frequency == "D":
            return self.origin + dt.timedelta(days=k)
        if self.frequency == "W":
            return self.origin + dt.timedelta(days=7 * k)
        return period_date_monthly(self.origin, k)

    def future_dates(self, horizon: int) -> list[dt.date]:
        """Target dates of horizons 1..horizon."""
        return [self.date(self.n_periods + h) for h in range(horizon)]

    def history_dates(self) -> np.ndarray:
        """Dates of the history periods, `(n_periods,)` datetime64[D]."""
        return np.array([self.date(k) for k in range(self.n_periods)], dtype="datetime64[D]")

    @property
    def season_length(self) -> int:
        return SEASON_LENGTH[self.frequency]


def period_date_monthly(origin: dt.date, k: int) -> dt.date:
    month_index = origin.year * 12 + origin.month - 1 + k
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(origin.day, last_day))
