"""Insert a new gift in one round trip.

The donor (when new), the donation, its goods lines and the audit entry are written by one
statement of data-modifying CTEs instead of the ORM's unit-of-work flushes (three flushes and
a re-read per gift showed as the largest cost of intake under load; see BENCHMARKS.md).
Foreign keys are checked at the end of the statement, so the rows may reference each other.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Table, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from donation.adapters.orm import AuditEntry, Donation, DonationItem, Donor


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, getattr(model, "__table__"))  # noqa: B009 - SQLModel types it loosely


def _columns(model: type[SQLModel]) -> list[Any]:
    """The columns we write: all but a database-generated key (the audit log's serial id)."""
    return [c for c in _table(model).columns if not (c.primary_key and c.autoincrement is True)]


def _values_clause(model: type[SQLModel], prefix: str) -> str:
    return "(" + ", ".join(f":{prefix}_{c.name}" for c in _columns(model)) + ")"


def _insert(model: type[SQLModel], prefixes: list[str]) -> str:
    names = ", ".join(c.name for c in _columns(model))
    rows = ", ".join(_values_clause(model, p) for p in prefixes)
    # names come from our table metadata; every value is a bound parameter
    return f"INSERT INTO {_table(model).name} ({names}) VALUES {rows}"  # noqa: S608


@cache
def _statement(new_donor: bool, item_count: int) -> TextClause:
    parts: list[tuple[str, type[SQLModel], list[str]]] = []
    if new_donor:
        parts.append(("new_donor", Donor, ["d"]))
    parts.append(("new_gift", Donation, ["g"]))
    if item_count:
        parts.append(("new_items", DonationItem, [f"i{n}" for n in range(item_count)]))
    ctes = ",\n".join(f"{name} AS ({_insert(model, p)})" for name, model, p in parts)
    sql = f"WITH {ctes}\n{_insert(AuditEntry, ['a'])}"
    tables: list[tuple[type[SQLModel], list[str]]] = [(m, p) for _, m, p in parts]
    tables.append((AuditEntry, ["a"]))
    binds = [
        bindparam(f"{prefix}_{c.name}", type_=c.type)
        for model, prefixes in tables
        for prefix in prefixes
        for c in _columns(model)
    ]
    return text(sql).bindparams(*binds)


def _params(obj: SQLModel, prefix: str) -> dict[str, Any]:
    return {f"{prefix}_{c.name}": getattr(obj, c.name) for c in _columns(type(obj))}


async def insert_gift(
    session: AsyncSession,
    *,
    donor: Donor | None,
    donation: Donation,
    items: list[DonationItem],
    audit: AuditEntry,
) -> None:
    """Write the rows of a new gift; ``donor`` is None when the donor already exists."""
    params = _params(donation, "g") | _params(audit, "a")
    if donor is not None:
        params |= _params(donor, "d")
    for n, item in enumerate(items):
        params |= _params(item, f"i{n}")
    await session.execute(_statement(donor is not None, len(items)), params)
