"""Brute-force reference for the guaranteed-service model on small trees.

Enumerates every integer outbound service time of every node of one SKU's tree, keeps the
feasible combinations (0 <= S_j <= SI_j + T_j, S_j <= max_service_time_out_j, SI_j = S_parent)
and returns the cheapest. Used only by tests/test_guaranteed_service.py.
"""

from __future__ import annotations

import itertools
import math


def brute_force_tree(nodes: list[dict]) -> tuple[float, dict[str, int]]:
    """``nodes``: dicts with location_id, source_id (None at the root), processing_time,
    external_service_time (root), max_service_time_out (None = 0 at leaves, unlimited at DCs),
    holding_cost, demand_std (leaves), z. Returns (min cost, service time out per location)."""
    by_id = {n["location_id"]: n for n in nodes}
    children = {n["location_id"]: [] for n in nodes}
    for n in nodes:
        if n["source_id"] is not None:
            children[n["source_id"]].append(n["location_id"])

    def variance(location: str) -> float:
        if not children[location]:
            std = by_id[location]["demand_std"]
            return 0.0 if std is None else std**2
        return sum(variance(c) for c in children[location])

    def largest_in(location: str) -> float:
        node = by_id[location]
        if node["source_id"] is None:
            return node["external_service_time"]
        parent = by_id[node["source_id"]]
        return largest_in(parent["location_id"]) + parent["processing_time"]

    ids = [n["location_id"] for n in nodes]
    ranges = [range(int(largest_in(i) + by_id[i]["processing_time"]) + 1) for i in ids]
    best_cost, best_plan = math.inf, {}
    for combination in itertools.product(*ranges):
        plan = dict(zip(ids, combination))
        cost = 0.0
        for i in ids:
            node = by_id[i]
            inbound = node["external_service_time"] if node["source_id"] is None else plan[node["source_id"]]
            limit = node.get("max_service_time_out")
            if limit is None:
                limit = math.inf if children[i] else 0
            net = inbound + node["processing_time"] - plan[i]
            if net < 0 or plan[i] > limit:
                cost = math.inf
                break
            cost += node["holding_cost"] * node["z"] * math.sqrt(variance(i)) * math.sqrt(net)
        if cost < best_cost - 1e-12:
            best_cost, best_plan = cost, plan
    return best_cost, best_plan
