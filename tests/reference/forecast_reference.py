"""Obvious per-series loops for the forecast stage's combination and selection rules."""

from __future__ import annotations

import numpy as np


def median_combination_loop(means: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``means`` ``(M, n, H)``, ``weights`` ``(M, n)``: per series and step, the median of the
    non-NaN forecasts of the members ``weights > 0``; NaN when there is none."""
    n_models, n_series, horizon = means.shape
    out = np.full((n_series, horizon), np.nan)
    for i in range(n_series):
        for h in range(horizon):
            values = [means[m, i, h] for m in range(n_models) if weights[m, i] > 0 and not np.isnan(means[m, i, h])]
            if values:
                out[i, h] = float(np.median(values))
    return out


def choose_champion_loop(scores, fold_scores, champion, threshold, every_fold):
    """One segment at a time: the best challenger replaces the champion if it wins on the mean by
    ``threshold`` and (``every_fold``) in each fold where both have a finite score."""
    n_models, n_segments = scores.shape
    chosen = []
    for s in range(n_segments):
        column = [scores[m, s] if np.isfinite(scores[m, s]) else np.inf for m in range(n_models)]
        best = int(np.argmin(column))
        if not np.isfinite(column[champion]):
            chosen.append(best)
            continue
        wins = column[best] < (1 - threshold) * column[champion]
        if every_fold:
            for f in range(fold_scores.shape[0]):
                a, b = fold_scores[f, best, s], fold_scores[f, champion, s]
                if np.isfinite(a) and np.isfinite(b) and a >= b:
                    wins = False
        chosen.append(best if wins else champion)
    return np.array(chosen)
