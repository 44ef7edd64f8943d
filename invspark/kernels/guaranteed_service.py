"""Guaranteed-service safety-stock placement on distribution trees (many SKUs at once).

Model (Graves & Willems 2000, "Optimizing strategic safety stock placement in supply chains",
Manufacturing & Service Operations Management 2(1), 68-83; Snyder & Shen 2019, "Fundamentals of
Supply Chain Theory", 2nd ed., Ch. 6, the guaranteed-service model and its dynamic program
for tree networks): node ``j`` receives its parent's shipments ``SI_j`` periods after it orders
(inbound service time = the parent's outbound service time ``S_parent``; at a root, the
supplier's committed ``external_service_time``), needs ``T_j`` periods of processing, and
promises its children (or customers) an outbound service time ``S_j``. It covers demand over
the net lead time ``NLT_j = SI_j + T_j - S_j`` with safety stock ``z_j sigma_j sqrt(NLT_j)``,
where ``sigma_j`` is the per-period standard deviation of the demand it serves (a DC pools its
stores: ``sigma_j^2 = sum of the leaf variances below j``). The service times minimize

    sum_j h_j z_j sigma_j sqrt(SI_j + T_j - S_j)
    s.t.  0 <= S_j <= SI_j + T_j,  S_j <= max_service_time_out_j,  SI_j = S_parent(j)

over integers. On a tree rooted at the supplier side (a distribution network) the DP is

    f_j(SI) = min_{0 <= S <= min(SI + T_j, smax_j)}  h_j z_j sigma_j sqrt(SI + T_j - S) + sum_{c child of j} f_c(S)

solved from the leaves up; the optimum of a tree is ``f_root(external_service_time)`` and the
service times follow top-down from the stored argmins. For a leaf ``f`` is closed-form: quote
the largest allowed ``S = min(SI + T, smax)``.

All arrays are per node, shape ``(n_nodes,)``, over a forest: every SKU's tree is one component
and ``parent_index`` points at the parent's row (-1 at a root). The DP loops over tree levels
and over the integer service-time grid ``0 .. G-1`` only; each step is vectorized over every
node of every SKU at that level.
"""

from __future__ import annotations

import numpy as np

from invspark.errors import InputDataError


def node_depth(parent_index: np.ndarray) -> np.ndarray:
    """Depth of each node (roots 0), ``(n,)`` int64, by following parent pointers level by level.

    Raises ``InputDataError`` when the parent pointers contain a cycle.
    """
    n = parent_index.shape[0]
    depth = np.zeros(n, dtype=np.int64)
    ancestor = parent_index.copy()
    for _ in range(n + 1):  # at most n levels: one per tree level, never per node
        active = ancestor >= 0
        if not active.any():
            return depth
        depth[active] += 1
        ancestor[active] = parent_index[ancestor[active]]
    rows = np.flatnonzero(ancestor >= 0)[:5]
    raise InputDataError(
        f"source_id: the DC -> store links contain a cycle (rows {rows.tolist()} never reach a node "
        "with a null source_id); fix the locations' source_id so every SKU's network is a tree"
    )


def has_children(parent_index: np.ndarray) -> np.ndarray:
    """``True`` for nodes that supply at least one other node, ``(n,)``."""
    n = parent_index.shape[0]
    child = parent_index >= 0
    return np.bincount(parent_index[child], minlength=n) > 0


def pooled_demand_std(parent_index: np.ndarray, depth: np.ndarray, leaf_demand_std: np.ndarray) -> np.ndarray:
    """Per-period demand std each node serves, ``(n,)``: ``sqrt(sum of leaf variances below it)``.

    ``leaf_demand_std`` ``(n,)`` is used at leaves only (internal nodes' values are ignored);
    this is the risk-pooling of Eppen (1979) used by the GSM for a DC's demand
    (the net demand of an internal stage in Snyder & Shen 2019, Ch. 6).
    """
    leaf = ~has_children(parent_index)
    variance = np.where(leaf, leaf_demand_std**2, 0.0)
    for level in range(int(depth.max(initial=0)), 0, -1):  # push each level's variance to parents
        rows = np.flatnonzero((depth == level) & (parent_index >= 0))
        variance += np.bincount(parent_index[rows], weights=variance[rows], minlength=variance.size)
    return np.sqrt(variance)


def max_inbound_service_time(
    parent_index: np.ndarray,
    depth: np.ndarray,
    processing_time: np.ndarray,
    external_service_time: np.ndarray,
    max_service_time_out: np.ndarray,
) -> np.ndarray:
    """Largest inbound service time a node can see, ``(n,)``: the root's external service time
    plus the processing times above it, capped by each ancestor's ``max_service_time_out``."""
    largest_in = np.where(parent_index < 0, external_service_time, 0.0)
    for level in range(1, int(depth.max(initial=0)) + 1):
        rows = np.flatnonzero(depth == level)
        parent = parent_index[rows]
        largest_in[rows] = np.minimum(largest_in[parent] + processing_time[parent], max_service_time_out[parent])
    return largest_in


def evaluate_service_times(
    parent_index: np.ndarray,
    service_time_out: np.ndarray,
    processing_time: np.ndarray,
    external_service_time: np.ndarray,
    holding_cost: np.ndarray,
    sigma: np.ndarray,
    z: np.ndarray,
) -> dict[str, np.ndarray]:
    """Inbound service time, net lead time, safety stock ``z sigma sqrt(NLT)`` and holding cost
    ``h z sigma sqrt(NLT)`` of given outbound service times, each ``(n,)``."""
    service_time_in = np.where(parent_index < 0, external_service_time, service_time_out[np.maximum(parent_index, 0)])
    net_lead_time = service_time_in + processing_time - service_time_out
    safety_stock = z * sigma * np.sqrt(np.maximum(net_lead_time, 0.0))
    return {
        "service_time_in": service_time_in,
        "net_lead_time": net_lead_time,
        "safety_stock": safety_stock,
        "holding_cost": holding_cost * safety_stock,
    }


def optimize_service_times(
    parent_index: np.ndarray,
    processing_time: np.ndarray,
    external_service_time: np.ndarray,
    max_service_time_out: np.ndarray,
    holding_cost: np.ndarray,
    sigma: np.ndarray,
    z: np.ndarray,
) -> np.ndarray:
    """Optimal integer outbound service times ``S`` ``(n,)`` of the GSM on every tree of the forest.

    ``processing_time``, ``external_service_time`` (read at roots) and ``max_service_time_out``
    (``inf`` = no limit) are non-negative whole numbers of periods; ``sigma`` is the pooled std
    from :func:`pooled_demand_std`. Ties go to the smallest ``S``.
    """
    n = parent_index.shape[0]
    depth = node_depth(parent_index)
    internal = has_children(parent_index)
    coefficient = holding_cost * z * sigma  # (n,) cost of one unit of sqrt(net lead time)
    largest_in = max_inbound_service_time(parent_index, depth, processing_time, external_service_time, max_service_time_out)
    n_grid = int(np.max(largest_in + processing_time, initial=0.0)) + 1  # service times 0 .. n_grid-1
    grid = np.arange(n_grid, dtype=np.float64)

    internal_rows = np.flatnonzero(internal)
    position = np.full(n, -1, dtype=np.int64)  # row -> index among internal nodes
    position[internal_rows] = np.arange(internal_rows.size)
    # children_cost[k, s] = sum over the children c of internal node k of f_c(s)
    children_cost = np.zeros((internal_rows.size, n_grid))
    leaf_rows = np.flatnonzero(~internal & (parent_index >= 0))
    leaf_parent = position[parent_index[leaf_rows]]
    leaf_slack = processing_time[leaf_rows] - max_service_time_out[leaf_rows]  # NLT = max(SI + slack, 0)
    for inbound in range(n_grid):  # f_leaf(SI) in closed form, summed into the parents, one SI at a time
        leaf_cost = coefficient[leaf_rows] * np.sqrt(np.maximum(inbound + leaf_slack, 0.0))
        children_cost[:, inbound] += np.bincount(leaf_parent, weights=leaf_cost, minlength=internal_rows.size)

    best_out = np.zeros((internal_rows.size, n_grid), dtype=np.int64)  # argmin S per (node, SI)
    for level in range(int(depth.max(initial=0)), -1, -1):
        rows = internal_rows[depth[internal_rows] == level]
        if rows.size == 0:
            continue
        pos = position[rows]
        lead = (grid[None, :] + processing_time[rows, None])  # (n_level, n_grid): SI + T
        best = np.full((rows.size, n_grid), np.inf)
        choice = np.zeros((rows.size, n_grid), dtype=np.int64)
        for outbound in range(n_grid):  # S on the integer grid
            net_lead_time = lead - outbound
            allowed = (net_lead_time >= 0) & (outbound <= max_service_time_out[rows, None])
            cost = coefficient[rows, None] * np.sqrt(np.maximum(net_lead_time, 0.0)) + children_cost[pos, outbound][:, None]
            better = allowed & (cost < best)
            best = np.where(better, cost, best)
            choice = np.where(better, outbound, choice)
        best_out[pos] = choice
        has_parent = parent_index[rows] >= 0
        np.add.at(children_cost, position[parent_index[rows[has_parent]]], best[has_parent])

    service_time_out = np.zeros(n)
    for level in range(int(depth.max(initial=0)) + 1):  # top-down: SI from the parent's S
        rows = np.flatnonzero(depth == level)
        parent = parent_index[rows]
        inbound = np.where(parent < 0, external_service_time[rows], service_time_out[np.maximum(parent, 0)])
        is_internal = internal[rows]
        from_table = best_out[position[rows[is_internal]], inbound[is_internal].astype(np.int64)]
        service_time_out[rows[is_internal]] = from_table
        leaves = rows[~is_internal]
        service_time_out[leaves] = np.minimum(inbound[~is_internal] + processing_time[leaves], max_service_time_out[leaves])
    return service_time_out


def single_echelon_service_times(
    parent_index: np.ndarray,
    processing_time: np.ndarray,
    external_service_time: np.ndarray,
    max_service_time_out: np.ndarray,
) -> np.ndarray:
    """Outbound service times of the single-echelon plan, ``(n,)``.

    Every location plans on its own, as if its supplier were always in stock: each DC quotes
    ``S = 0`` (it holds stock for its whole inbound time plus processing time), each store quotes
    its customer promise ``max_service_time_out`` and so covers its own replenishment time
    ``T`` from a DC that ships at once. This is the "each stage holds safety stock for its own
    lead time" baseline (decentralized, single-echelon planning) that multi-echelon placement
    is usually compared with. The other reading, the DC as a pure cross-dock quoting
    ``S = SI + T`` and every store covering the whole path, is also feasible and is not used.
    """
    internal = has_children(parent_index)
    inbound = np.where(parent_index < 0, external_service_time, 0.0)
    leaf_out = np.minimum(inbound + processing_time, max_service_time_out)
    return np.where(internal, 0.0, leaf_out)
