"""The group filters and sort orders shared by the list, the CSV export and the graph.

One declaration of the parameters and one translation into SQL, so `?status=pending&minConfidence=
0.9` selects the same groups on every endpoint that accepts it. Every filter and sort column has
an index (checked by tests/test_store.py).
"""

from __future__ import annotations

from typing import Any

from .params import Param, invalid
from .schemas import enum, number, string

STATUS_LIST = "(pending|false_positive|ignored|deleted)"
FILTER_PARAMS = (
    Param("minConfidence", number(0, 1), "Lowest confidence, 0..1."),
    Param("maxConfidence", number(0, 1), "Highest confidence, 0..1."),
    Param(
        "status",
        string(pattern=f"^{STATUS_LIST}(,{STATUS_LIST})*$"),
        "Comma-separated statuses: pending, false_positive, ignored, deleted.",
    ),
)
SORT_PARAMS = (
    Param("sortBy", enum("confidence", "created_at", "member_count", default="confidence")),
    Param("sortOrder", enum("asc", "desc", default="desc")),
)
_SORT_COLUMNS = {
    "confidence": "g.confidence",
    "created_at": "g.created_at",
    "member_count": "g.member_count",
}


def where(query: dict[str, Any]) -> tuple[str, list[Any]]:
    """`WHERE ...` (or "") and its parameters for the filters in `query` (alias `g`)."""
    low, high = query.get("minConfidence"), query.get("maxConfidence")
    if low is not None and high is not None and low > high:
        raise invalid("minConfidence", "must not be greater than maxConfidence")
    clauses, params = [], []
    if low is not None:
        clauses.append("g.confidence >= ?")
        params.append(low)
    if high is not None:
        clauses.append("g.confidence <= ?")
        params.append(high)
    if query.get("status"):
        statuses = sorted(set(query["status"].split(",")))
        clauses.append(f"g.status IN ({', '.join('?' * len(statuses))})")
        params += statuses
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def order_by(query: dict[str, Any]) -> str:
    """`ORDER BY ...` with the group id as a tie-break, so pages never overlap."""
    direction = "ASC" if query["sortOrder"] == "asc" else "DESC"
    return f"ORDER BY {_SORT_COLUMNS[query['sortBy']]} {direction}, g.id {direction}"
