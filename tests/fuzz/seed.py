"""Records for the fuzzer to find: a few of each kind, created through each service's API.

Random identifiers in a path almost never name a record, so a fuzzer alone only ever reaches
the "not found" branch of every ``/{id}`` operation. Each module seeds a handful of records in
several states and ``Known.register`` makes schemathesis put their identifiers into about half
of the generated paths, so updates, state changes, receipts, proofs, etc. run on real rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import requests
from hypothesis import strategies as st
from schemathesis import BaseSchema, HookContext

from shared.pagination import encode_cursor

_PARAM = re.compile(r"([^/]+)/\{(\w+)\}")


class Known:
    """Identifiers of seeded records, by ``<collection>/<parameter>`` (``projects/code``)."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = defaultdict(list)

    def add(self, key: str, value: Any) -> None:
        self.values[key].append(str(value))

    def register(self, schema: BaseSchema) -> None:
        known = self.values

        def before_generate_path_parameters(
            context: HookContext, strategy: st.SearchStrategy[Any]
        ) -> st.SearchStrategy[Any]:
            operation = context.operation
            if operation is None:
                return strategy
            slots = {name: f"{seg}/{name}" for seg, name in _PARAM.findall(operation.path)}
            if not slots:
                return strategy

            def maybe_known(generated: Any) -> st.SearchStrategy[Any]:
                if not isinstance(generated, dict):
                    return st.just(generated)
                options = [st.just(generated)]
                for name, key in slots.items():
                    if known.get(key):  # read at draw time: filled once the module's app runs
                        options.append(st.sampled_from(known[key]).map(_put(generated, name)))
                return st.one_of(options)

            return strategy.flatmap(maybe_known)

        schema.hook(before_generate_path_parameters)
        schema.hook(before_generate_query)


# Well-formed cursors (base64 JSON lists, as encode_cursor makes them) holding anything: a
# random string is almost never one, so the listings' cursor decoding would go untested.
_CURSOR_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.one_of(
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
    ),
)
# our cursors hold one or two values
_CURSORS = st.one_of(
    st.lists(st.text(max_size=10), min_size=1, max_size=2),
    st.lists(_CURSOR_VALUES, min_size=1, max_size=1),
    st.lists(_CURSOR_VALUES, min_size=2, max_size=2),
).map(lambda values: encode_cursor(*values))


def before_generate_query(
    context: HookContext, strategy: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    operation = context.operation
    if operation is None or "cursor" not in {p.name for p in operation.query}:
        return strategy

    def maybe_cursor(generated: Any) -> st.SearchStrategy[Any]:
        if not isinstance(generated, dict):
            return st.just(generated)
        return st.one_of(st.just(generated), _CURSORS.map(lambda c: {**generated, "cursor": c}))

    return strategy.flatmap(maybe_cursor)


def _put(params: dict[str, Any], name: str) -> Callable[[str], dict[str, Any]]:
    return lambda value: {**params, name: value}


def _ok(response: requests.Response, status: int = 201) -> Any:
    assert response.status_code == status, f"seed: {response.status_code} {response.text}"
    return response.json()


def seed_donation(client: requests.Session, known: Known) -> None:
    """Projects, donors, gifts (pledged, received, receipted, cancelled), disbursements."""
    project = _ok(
        client.post(
            "/api/v1/projects",
            json={
                "code": "FZ-P1",
                "name": "模糊测试项目",
                "category": "other",
                "town": "溪口镇",
                "starts_on": "2026-01-01",
                "ends_on": "2026-12-31",
                "budget_fen": 10_000_000,
            },
        )
    )
    known.add("projects/code", project["code"])
    donor = _ok(client.post("/api/v1/donors", json={"name": "张模糊", "phone": "13800009999"}))
    known.add("donors/donor_id", donor["id"])

    def gift(**extra: Any) -> Any:
        body: dict[str, Any] = {
            "amount_fen": 500_000,
            "channel": "bank_transfer",
            "display": "surname",
            "project_code": "FZ-P1",
            "donor": {"name": "李模糊", "phone": "13800008888"},
        } | extra
        created = _ok(client.post("/api/v1/donations", json=body))
        known.add("donations/donation_id", created["id"])
        known.add("track/tracking_code", created["tracking_code"])
        return created

    gift(pledged=True)
    gift()
    receipted = gift(donor_id=donor["id"], donor=None)
    _ok(client.post(f"/api/v1/donations/{receipted['id']}/receipt", json={}))
    cancelled = gift()
    _ok(
        client.post(f"/api/v1/donations/{cancelled['id']}/cancel", json={"reason": "模糊测试"}), 200
    )
    for n, amount in enumerate((100_000, 200_000), start=1):
        disbursement = _ok(
            client.post(
                "/api/v1/projects/FZ-P1/disbursements",
                json={
                    "amount_fen": amount,
                    "purpose": "模糊测试拨付",
                    "recipient_type": "organization",
                    "recipient_name": "溪口镇中心小学",
                    "town": "溪口镇",
                    "voucher_no": f"FZ-V{n}",
                    "disbursed_on": "2026-03-01",
                },
            )
        )
        known.add("disbursements/disbursement_id", disbursement["id"])


# a tiny PNG (the magic bytes the photo upload checks, then any bytes)
FUZZ_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))


def seed_follow_up_visits(client: requests.Session, known: Known, approver_token: str) -> None:
    """A disbursement approved by a second account plans a follow-up visit; it gets a photo."""
    disbursement_id = known.values["disbursements/disbursement_id"][-1]
    approved = client.post(
        f"/api/v1/disbursements/{disbursement_id}/approve",
        headers={"Authorization": f"Bearer {approver_token}"},
    )
    _ok(approved, 200)
    (visit,) = _ok(client.get("/api/v1/follow-up-visits", params={"project_code": "FZ-P1"}), 200)[
        "items"
    ]
    known.add("follow-up-visits/visit_id", visit["id"])
    photo = _ok(
        client.post(
            f"/api/v1/follow-up-visits/{visit['id']}/photos",
            data=FUZZ_PNG,
            headers={"Content-Type": "image/png"},
        )
    )
    known.add("photos/sha256", photo["sha256"])


def seed_warehouse(client: requests.Session, known: Known) -> None:
    """Warehouses, items, inbounds (announced, confirmed), a stock count, dispatches."""
    for code, kind in (("FZ-WH1", "district"), ("FZ-ST1", "station")):
        _ok(
            client.post(
                "/api/v1/warehouses",
                json={"code": code, "name": f"模糊仓库{code}", "kind": kind, "town": "溪口镇"},
            )
        )
        known.add("warehouses/code", code)
    for code, lot_tracked in (("FZ-RICE", False), ("FZ-WATER", True)):
        _ok(
            client.post(
                "/api/v1/items",
                json={
                    "code": code,
                    "name": f"模糊物资{code}",
                    "category": "food",
                    "unit": "箱",
                    "lot_tracked": lot_tracked,
                    "unit_value_fen": 1000,
                    "default_safety_stock": 5,
                },
            )
        )
        known.add("items/code", code)
    lines: list[dict[str, Any]] = [
        {"item_code": "FZ-RICE", "quantity": 100},
        {"item_code": "FZ-WATER", "quantity": 50, "lot_no": "L1", "expiry_date": "2030-01-01"},
    ]
    for n in (1, 2):
        inbound = _ok(
            client.post(
                "/api/v1/inbounds",
                json={"warehouse_code": "FZ-WH1", "procurement_order": f"FZ-PO{n}", "lines": lines},
            )
        )
        known.add("inbounds/inbound_id", inbound["id"])
    confirm = [
        {"line_no": n, "received_quantity": line["quantity"]} for n, line in enumerate(lines, 1)
    ]
    _ok(client.post(f"/api/v1/inbounds/{inbound['id']}/confirm", json={"lines": confirm}), 200)
    count = _ok(
        client.post(
            "/api/v1/stock-counts",
            json={
                "warehouse_code": "FZ-WH1",
                "lines": [{"item_code": "FZ-RICE", "counted_quantity": 10, "reason": "found"}],
            },
        )
    )
    known.add("stock-counts/count_id", count["id"])
    for urgency in ("urgent", "normal"):
        dispatch = _ok(
            client.post(
                "/api/v1/dispatches",
                json={
                    "from_warehouse_code": "FZ-WH1",
                    "destination": {"kind": "shelter", "name": "溪口镇安置点", "town": "溪口镇"},
                    "incident_code": "TY-FZ",
                    "incident_name": "模糊台风",
                    "urgency": urgency,
                    "lines": [{"item_code": "FZ-RICE", "quantity": 5}],
                },
            )
        )
        known.add("dispatches/dispatch_id", dispatch["id"])
