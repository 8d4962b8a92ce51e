"""The declared safe transformations: the only ways a derived column is relieved of the
restriction of a column it is computed from. Everything else (a copy, a cast, an unkeyed hash
such as sha2, md5, sha1 or xxhash64, any other expression) inherits it: about 2x10^10 MyKad
numbers exist, so an unkeyed hash of one is reversed by enumerating them (ADR-0076).

- "hmac": the lake's keyed token `lake_token(col)` (tokens.py: HMAC-SHA256 with a key the lake
  manages, from the environment locally and AWS Secrets Manager on aws). Without the key no one
  can enumerate; with it, equal values still link rows, which a token treatment allows.
- "aggregate>=k": count, sum or avg in a gold table that declares its minimum group size k
  (gold/tables.py MinGroup, enforced by a blocking rule of its output contract). min, max,
  first, collect_list and the like return one individual's value and are not safe.

Both lineage readers (gold/lineage.py for SQL, attributes.py for the Origins) use these names.
"""

from __future__ import annotations

from typing import Any

HMAC = "hmac"
TOKEN_FUNCTION = "lake_token"
# Aggregate functions (sqlglot's expression names, lower case) whose result over k individuals
# does not return any one of their values.
SAFE_AGGREGATES = frozenset({"count", "sum", "avg"})
# The smallest minimum group size a table may declare: below it an aggregate is a near copy.
MIN_GROUP_FLOOR = 5


def aggregate(k: int) -> str:
    return f"aggregate>={k}"


def relaxed_attributes(safe: str) -> dict[str, Any]:
    """What a column computed only through safe transformations is: no longer the source's
    sensitivity, "internal" (it stays inside the bank), and a token or an aggregate."""
    kind = "token" if safe == HMAC else "aggregate"
    return {"sensitivity": "internal", "semantic_type": kind}
