"""The authorisation policy of every HTTP route of the three services: the specification that
``test_matrix.py`` checks the running apps against, and the source of
``docs/authorization.md`` (``python -m tests.integration.authz.policy > docs/authorization.md``).

Written by hand from the staff guides, not read from the code: docs/donation.md
("Conventions: Roles", "Audit log"), docs/warehouse.md ("Logging in and roles"),
docs/notification-alerts.md (the role columns of the alert and notice tables) and the README
(pages, observability). Where a guide says nothing, the entry follows least privilege and says
so in a comment.

Reading an entry:

- ``PUBLIC``: no login; a token, valid or not, changes nothing.
- ``ANY_STAFF``: any valid staff token, even one without a role.
- ``staff(R, ...)``: a valid token holding one of the roles ``R``; ``admin`` is always
  included (shared/auth.py: admins pass every role check). Everyone else gets ``403``; no token,
  a malformed, forged or expired token gets ``401``.

Paths are FastAPI path templates. ``HEAD`` (added by Starlette to plain ``GET`` routes) is not
listed separately.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final, Literal

Service = Literal["donation", "warehouse", "notification"]
SERVICES: Final[tuple[Service, ...]] = ("donation", "warehouse", "notification")

ADMIN: Final = "admin"
FINANCE: Final = "finance"
WAREHOUSE: Final = "warehouse"
DISPATCHER: Final = "dispatcher"
APPROVER: Final = "approver"
AUDITOR: Final = "auditor"
# Every role there is (the test checks shared.auth.Role against it: a new role is a policy
# decision for every row below).
ROLES: Final[tuple[str, ...]] = (ADMIN, FINANCE, WAREHOUSE, DISPATCHER, APPROVER, AUDITOR)

PUBLIC: Final = "public"
ANY_STAFF: Final = "any staff"

Access = Literal["public", "any staff"] | frozenset[str]
Route = tuple[Service, str, str]  # (service, HTTP method, path template)


def staff(*roles: str) -> frozenset[str]:
    """These roles, and ``admin``."""
    return frozenset({ADMIN, *roles})


EVERY_ROLE: Final = staff(FINANCE, WAREHOUSE, DISPATCHER, APPROVER, AUDITOR)

# The same on every service: API docs, health, metrics, the pages' static assets.
_COMMON: dict[str, Access] = {
    "GET /api/v1/openapi.json": PUBLIC,
    "GET /api/docs": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,  # scraped by Prometheus (README, Observability)
    "GET /assets/common/{name}": PUBLIC,
    "GET /assets/page/{name}": PUBLIC,
    "GET /assets/vendor/{name}": PUBLIC,
    "GET /web-config.json": PUBLIC,
    "GET /favicon.ico": PUBLIC,
}

# docs/donation.md: finance records gifts, receipts, projects and disbursements; approver (or a
# second finance officer) approves disbursements; dispatcher, approver and finance record
# follow-ups; auditor reads everything and is the only reader of the audit log (with admin).
# The guide does not name further readers: the gift, donor, receipt and report reads (personal
# data, money) go to those who record or approve (finance, approver) and the auditor; project,
# disbursement and follow-up reads also to the dispatcher, who records follow-ups against them.
# The warehouse role reads nothing here.
_GIFT_READERS = staff(FINANCE, APPROVER, AUDITOR)
_PROJECT_READERS = staff(FINANCE, APPROVER, DISPATCHER, AUDITOR)

_DONATION: dict[str, Access] = {
    # log in, and who am I (any logged-in person)
    "POST /api/v1/auth/token": PUBLIC,
    "GET /api/v1/auth/me": ANY_STAFF,
    # change one's own password: the old password proves who it is (no token: an account with
    # an initial password gets none); throttled and audited like a login
    "POST /api/v1/auth/password": PUBLIC,
    # the organisation register: every staff member reads the names; admins change it (the
    # service also refuses a town branch's admin: only the district branch's manage it)
    "GET /api/v1/organisations": ANY_STAFF,
    "GET /api/v1/organisations/{code}": ANY_STAFF,
    "POST /api/v1/organisations": staff(),
    "PATCH /api/v1/organisations/{code}": staff(),
    # disaster incidents: every staff member reads the register (a dispatch names one); finance,
    # dispatchers and approvers record and edit; declaring one major (24-hour disclosure) is an
    # approver's decision
    "GET /api/v1/incidents": ANY_STAFF,
    "GET /api/v1/incidents/{code}": ANY_STAFF,
    "POST /api/v1/incidents": staff(FINANCE, DISPATCHER, APPROVER),
    "PATCH /api/v1/incidents/{code}": staff(FINANCE, DISPATCHER, APPROVER),
    "POST /api/v1/incidents/{code}/declare-major": staff(APPROVER),
    # a project's performance evaluation (figures, scores; xlsx): the project readers and the
    # supervisory board
    "GET /api/v1/projects/{code}/evaluation": _PROJECT_READERS,
    # the recipients register (docs/donation.md, "Recipients register"): finance and dispatchers
    # register and correct (the people a disbursement or a delivery names); the relief roles,
    # the warehouse (names recipients at delivery) and the auditor read it, masked but for the
    # relief roles' single read
    "GET /api/v1/recipients": staff(FINANCE, DISPATCHER, APPROVER, WAREHOUSE, AUDITOR),
    "GET /api/v1/recipients/reach": staff(FINANCE, DISPATCHER, APPROVER, WAREHOUSE, AUDITOR),
    "GET /api/v1/recipients/{recipient_id}": staff(
        FINANCE, DISPATCHER, APPROVER, WAREHOUSE, AUDITOR
    ),
    "POST /api/v1/recipients": staff(FINANCE, DISPATCHER),
    "PATCH /api/v1/recipients/{recipient_id}": staff(FINANCE, DISPATCHER),
    # staff accounts: admins only (a town branch's admin, only their organisation's accounts)
    "GET /api/v1/staff": staff(),
    "POST /api/v1/staff": staff(),
    "GET /api/v1/staff/{username}": staff(),
    "PATCH /api/v1/staff/{username}": staff(),
    "POST /api/v1/staff/{username}/password-reset": staff(),
    "POST /api/v1/staff/{username}/disable": staff(),
    "POST /api/v1/staff/{username}/enable": staff(),
    "POST /api/v1/staff/{username}/unlock": staff(),
    # gifts
    "POST /api/v1/donations": staff(FINANCE),
    "GET /api/v1/donations": _GIFT_READERS,
    "GET /api/v1/donations/{donation_id}": _GIFT_READERS,
    "PATCH /api/v1/donations/{donation_id}": staff(FINANCE),
    "POST /api/v1/donations/{donation_id}/receive": staff(FINANCE),
    "POST /api/v1/donations/{donation_id}/receipt": staff(FINANCE),
    "POST /api/v1/donations/{donation_id}/receipt/void": staff(FINANCE),
    "GET /api/v1/donations/{donation_id}/receipts": _GIFT_READERS,
    "POST /api/v1/donations/{donation_id}/cancel": staff(FINANCE),
    "POST /api/v1/donations/{donation_id}/refund": staff(FINANCE),
    "POST /api/v1/donations/{donation_id}/complete": staff(FINANCE),
    # refunds above DONATION_REFUND_FOUR_EYES_FEN (docs/donation.md): read like gifts,
    # approved or rejected like disbursements (another account than the requester)
    "GET /api/v1/refund-requests": _GIFT_READERS,
    "GET /api/v1/refund-requests/{request_id}": _GIFT_READERS,
    "POST /api/v1/refund-requests/{request_id}/approve": staff(APPROVER, FINANCE),
    "POST /api/v1/refund-requests/{request_id}/reject": staff(APPROVER, FINANCE),
    "GET /api/v1/receipts": _GIFT_READERS,
    # donors
    "POST /api/v1/donors": staff(FINANCE),
    "GET /api/v1/donors": _GIFT_READERS,
    "GET /api/v1/donors/{donor_id}": _GIFT_READERS,
    "PATCH /api/v1/donors/{donor_id}": staff(FINANCE),
    # projects, disbursements, follow-ups
    "POST /api/v1/projects": staff(FINANCE),
    "GET /api/v1/projects": _PROJECT_READERS,
    "GET /api/v1/projects/{code}": _PROJECT_READERS,
    "PATCH /api/v1/projects/{code}": staff(FINANCE),
    "POST /api/v1/projects/{code}/close": staff(FINANCE),
    "POST /api/v1/projects/{code}/remainder": staff(FINANCE),
    "POST /api/v1/projects/{code}/remainder/consents": staff(FINANCE),
    "POST /api/v1/projects/{code}/disbursements": staff(FINANCE),
    "GET /api/v1/projects/{code}/disbursements": _PROJECT_READERS,
    "GET /api/v1/disbursements": _PROJECT_READERS,
    "GET /api/v1/disbursements/{disbursement_id}": _PROJECT_READERS,
    "PATCH /api/v1/disbursements/{disbursement_id}": staff(FINANCE),
    "POST /api/v1/disbursements/{disbursement_id}/approve": staff(APPROVER, FINANCE),
    "POST /api/v1/disbursements/{disbursement_id}/reject": staff(APPROVER, FINANCE),
    # an approved disbursement reversed or corrected: entered like one, approved like one
    "POST /api/v1/disbursements/{disbursement_id}/reverse": staff(FINANCE),
    "POST /api/v1/disbursements/{disbursement_id}/correct": staff(FINANCE),
    "GET /api/v1/disbursement-reversals": _PROJECT_READERS,
    "GET /api/v1/disbursement-reversals/{reversal_id}": _PROJECT_READERS,
    "POST /api/v1/disbursement-reversals/{reversal_id}/approve": staff(APPROVER, FINANCE),
    "POST /api/v1/disbursement-reversals/{reversal_id}/reject": staff(APPROVER, FINANCE),
    "POST /api/v1/follow-ups": staff(DISPATCHER, APPROVER, FINANCE),
    "GET /api/v1/follow-ups": _PROJECT_READERS,
    # follow-ups as a plan (docs/donation.md, "Follow-up visits"): those who record follow-ups
    # record a planned visit's outcome and its photos; the readers of follow-ups read the due
    # list and the photos (staff only; a town branch its own organisation's projects)
    "GET /api/v1/follow-up-visits": _PROJECT_READERS,
    "GET /api/v1/follow-up-visits/{visit_id}": _PROJECT_READERS,
    "POST /api/v1/follow-up-visits/{visit_id}/outcome": staff(DISPATCHER, APPROVER, FINANCE),
    "POST /api/v1/follow-up-visits/{visit_id}/photos": staff(DISPATCHER, APPROVER, FINANCE),
    "GET /api/v1/follow-up-visits/{visit_id}/photos/{sha256}": _PROJECT_READERS,
    # reports and the audit log
    "GET /api/v1/reports/totals": _GIFT_READERS,
    "GET /api/v1/reports/uses": _GIFT_READERS,
    "GET /api/v1/audit": staff(AUDITOR),
    # the donor's own view (docs/donation.md: public, no login; rate-limited per client)
    "GET /api/v1/track/{tracking_code}": PUBLIC,
    "POST /api/v1/donor-lookup/code": PUBLIC,
    "POST /api/v1/donor-lookup/verify": PUBLIC,
    # online giving (docs/online-giving.md): the donor's side is public, rate-limited per
    # client; a receipt PDF is read with the gift's tracking code, as the tracking page; the
    # gateways' notifications carry no token: their signatures are checked instead
    "GET /api/v1/giving/options": PUBLIC,
    "POST /api/v1/giving/orders": PUBLIC,
    "GET /api/v1/giving/orders/{out_trade_no}": PUBLIC,
    "GET /api/v1/giving/orders/{out_trade_no}/qr.svg": PUBLIC,
    "GET /api/v1/receipts/{tracking_code}.pdf": PUBLIC,
    "POST /api/v1/payments/{channel}/notify": PUBLIC,
    # reconciliation and combined receipts: finance acts, the auditor (监事会) reads
    "POST /api/v1/reconciliation/runs": staff(FINANCE),
    "GET /api/v1/reconciliation/runs": staff(FINANCE, AUDITOR),
    "GET /api/v1/reconciliation/findings": staff(FINANCE, AUDITOR),
    "POST /api/v1/reconciliation/findings/{finding_id}/resolve": staff(FINANCE),
    "POST /api/v1/combined-receipts": staff(FINANCE),
    "GET /api/v1/combined-receipts": staff(FINANCE, AUDITOR),
    "GET /api/v1/combined-receipts/{month}.pdf": staff(FINANCE, AUDITOR),
    # pages: static HTML; the console's data comes from the API above, authorised there
    "GET /": PUBLIC,
    "GET /track": PUBLIC,
    "GET /track/{tracking_code}": PUBLIC,
    "GET /give": PUBLIC,
    "GET /give/{project_code}": PUBLIC,
    "GET /give/result/{out_trade_no}": PUBLIC,
    "GET /console/donation": PUBLIC,
}

# docs/warehouse.md, "Logging in and roles": warehouse keeps the catalogue, receives, counts,
# picks, ships and runs the expiry scan; dispatcher requests a dispatch, cancels it and records
# the sign-off (cancel and sign-off also warehouse); approver approves or rejects; any staff
# role reads everything (lists, stock card, CSV); the audit log is the auditor's.
_KEEPER = staff(WAREHOUSE)

_WAREHOUSE: dict[str, Access] = {
    # catalogue
    "POST /api/v1/warehouses": _KEEPER,
    "GET /api/v1/warehouses": EVERY_ROLE,
    "GET /api/v1/warehouses/{code}": EVERY_ROLE,
    "PATCH /api/v1/warehouses/{code}": _KEEPER,
    "POST /api/v1/items": _KEEPER,
    "GET /api/v1/items": EVERY_ROLE,
    "GET /api/v1/items/{code}": EVERY_ROLE,
    "PATCH /api/v1/items/{code}": _KEEPER,
    "POST /api/v1/safety-stocks": _KEEPER,
    # inbound
    "POST /api/v1/inbounds": _KEEPER,
    "POST /api/v1/inbounds/{inbound_id}/confirm": _KEEPER,
    "GET /api/v1/inbounds": EVERY_ROLE,
    "GET /api/v1/inbounds/{inbound_id}": EVERY_ROLE,
    "GET /api/v1/expected-inbounds": EVERY_ROLE,  # = GET /inbounds?status=expected (legacy)
    # stock and counts
    "GET /api/v1/stock": EVERY_ROLE,
    "GET /api/v1/stock/export.csv": EVERY_ROLE,
    "GET /api/v1/lots": EVERY_ROLE,
    "GET /api/v1/stock/movements": EVERY_ROLE,
    "GET /api/v1/stock/movements/export.csv": EVERY_ROLE,
    "GET /api/v1/stock/card": EVERY_ROLE,
    "POST /api/v1/stock-counts": _KEEPER,
    "GET /api/v1/stock-counts": EVERY_ROLE,
    "GET /api/v1/stock-counts/{count_id}": EVERY_ROLE,
    # write-offs above the four-eyes threshold: decided by an approver, not the counter
    "GET /api/v1/stock-adjustments": EVERY_ROLE,
    "GET /api/v1/stock-adjustments/{adjustment_id}": EVERY_ROLE,
    "POST /api/v1/stock-adjustments/{adjustment_id}/approve": staff(APPROVER),
    "POST /api/v1/stock-adjustments/{adjustment_id}/reject": staff(APPROVER),
    # dispatch
    "POST /api/v1/dispatches": staff(DISPATCHER),
    "POST /api/v1/dispatches/{dispatch_id}/approve": staff(APPROVER),
    "POST /api/v1/dispatches/{dispatch_id}/reject": staff(APPROVER),
    "POST /api/v1/dispatches/{dispatch_id}/cancel": staff(DISPATCHER, WAREHOUSE),
    "POST /api/v1/dispatches/{dispatch_id}/pick": _KEEPER,
    "POST /api/v1/dispatches/{dispatch_id}/ship": _KEEPER,
    "POST /api/v1/dispatches/{dispatch_id}/deliver": staff(DISPATCHER, WAREHOUSE),
    # the receiving station's confirmation of a transfer (short/damaged): as the sign-off
    "POST /api/v1/dispatches/{dispatch_id}/receive": staff(DISPATCHER, WAREHOUSE),
    "GET /api/v1/dispatches": EVERY_ROLE,
    "GET /api/v1/dispatches/{dispatch_id}": EVERY_ROLE,
    # smart preparedness (docs/preparedness.md): every role reads the levels, suggestions,
    # heat map, rotation list and policies (organisation scope applies); a warehouse's own
    # policy is set by its keepers and approvers, the category defaults by the district's
    # approvers only (checked in the handler)
    "GET /api/v1/preparedness/levels": EVERY_ROLE,
    "GET /api/v1/preparedness/suggestions": EVERY_ROLE,
    "GET /api/v1/preparedness/heatmap": EVERY_ROLE,
    "GET /api/v1/preparedness/rotation": EVERY_ROLE,
    "GET /api/v1/preparedness/category-policies": EVERY_ROLE,
    "GET /api/v1/preparedness/category-policies/{category}": EVERY_ROLE,
    "PUT /api/v1/preparedness/category-policies/{category}": staff(APPROVER),
    "GET /api/v1/preparedness/policies/{warehouse_code}/{item_code}": EVERY_ROLE,
    "PUT /api/v1/preparedness/policies/{warehouse_code}/{item_code}": staff(WAREHOUSE, APPROVER),
    "DELETE /api/v1/preparedness/policies/{warehouse_code}/{item_code}": staff(WAREHOUSE, APPROVER),
    # season plans (docs/preparedness.md): the district's dispatchers and approvers edit them
    # and fill the gaps (transfers that still need another approver); every role reads
    "POST /api/v1/preparedness/plans": staff(DISPATCHER, APPROVER),
    "GET /api/v1/preparedness/plans": EVERY_ROLE,
    "GET /api/v1/preparedness/plans/{code}": EVERY_ROLE,
    "PATCH /api/v1/preparedness/plans/{code}": staff(DISPATCHER, APPROVER),
    "PUT /api/v1/preparedness/plans/{code}/towns/{town}": staff(DISPATCHER, APPROVER),
    "PUT /api/v1/preparedness/plans/{code}/norms/{item_code}": staff(DISPATCHER, APPROVER),
    "PUT /api/v1/preparedness/plans/{code}/targets/{town}/{item_code}": staff(DISPATCHER, APPROVER),
    "DELETE /api/v1/preparedness/plans/{code}/targets/{town}/{item_code}": staff(
        DISPATCHER, APPROVER
    ),
    "GET /api/v1/preparedness/plans/{code}/coverage": EVERY_ROLE,
    "GET /api/v1/preparedness/plans/{code}/fill-gap": EVERY_ROLE,
    "POST /api/v1/preparedness/plans/{code}/fill-gap": staff(DISPATCHER, APPROVER),
    # requisitions (请领): a station's keeper or dispatcher raises (and cancels) one, the
    # district's approver decides it (docs/preparedness.md); every role reads
    "POST /api/v1/requisitions": staff(WAREHOUSE, DISPATCHER),
    "GET /api/v1/requisitions": EVERY_ROLE,
    "GET /api/v1/requisitions/{requisition_id}": EVERY_ROLE,
    "POST /api/v1/requisitions/{requisition_id}/approve": staff(APPROVER),
    "POST /api/v1/requisitions/{requisition_id}/refuse": staff(APPROVER),
    "POST /api/v1/requisitions/{requisition_id}/cancel": staff(WAREHOUSE, DISPATCHER),
    # transfers in transit and their discrepancies: read like the dispatches (every role)
    "GET /api/v1/preparedness/in-transit": EVERY_ROLE,
    "GET /api/v1/preparedness/transit-discrepancies": EVERY_ROLE,
    # the goods value report (docs/warehouse.md, "Goods value"): read like the stock, by every
    # role (organisation scope applies)
    "GET /api/v1/reports/goods-value": EVERY_ROLE,
    "GET /api/v1/reports/goods-value.xlsx": EVERY_ROLE,
    # audit log, expiry scan
    "GET /api/v1/audit-log": staff(AUDITOR),
    "POST /api/v1/expiry-scans": _KEEPER,
    # the preparedness sweep publishes reorder and plan-gap signals for every warehouse:
    # decided like a write-off, by an approver (docs/warehouse.md, smart preparedness)
    "POST /api/v1/preparedness/sweep": staff(APPROVER),
    # pages; the console's same-origin proxy (docs/decisions/005-web-pages.md) forwards to the
    # donation and notification services, whose policy it must carry through unchanged
    "GET /": PUBLIC,
    "GET /console/warehouse": PUBLIC,
    "POST /console/api/auth/token": PUBLIC,  # → donation POST /api/v1/auth/token
    "POST /console/api/auth/password": PUBLIC,  # → donation POST /api/v1/auth/password
    "GET /console/api/alerts": staff(WAREHOUSE, AUDITOR),  # → notification GET /api/v1/alerts
    "POST /console/api/alerts/{alert_id}/acknowledge": staff(WAREHOUSE),  # → … /acknowledge
}

# docs/notification-alerts.md (role columns) and docs/notification-feed.md (public, no login).
_NOTIFICATION: dict[str, Access] = {
    # the 阳光红会 public feed and its transparency log
    "GET /api/v1/public/feed": PUBLIC,
    "GET /api/v1/public/entries/{entry_id}": PUBLIC,
    "GET /api/v1/public/track/{tracking_code}": PUBLIC,
    "GET /api/v1/public/summary": PUBLIC,
    "GET /api/v1/public/timeliness": PUBLIC,
    "GET /api/v1/public/export.json": PUBLIC,
    "GET /api/v1/public/export.csv": PUBLIC,
    "GET /api/v1/public/stream": PUBLIC,
    "GET /api/v1/public/tree-head": PUBLIC,
    "GET /api/v1/public/log-key": PUBLIC,
    "GET /api/v1/public/log/entries": PUBLIC,
    "GET /api/v1/public/proofs/inclusion": PUBLIC,
    "GET /api/v1/public/proofs/consistency": PUBLIC,
    # stock alerts and notices
    "GET /api/v1/alerts": staff(WAREHOUSE, AUDITOR),
    "GET /api/v1/alerts/{alert_id}": staff(WAREHOUSE, AUDITOR),
    "POST /api/v1/alerts/{alert_id}/acknowledge": staff(WAREHOUSE),
    "GET /api/v1/notices": staff(AUDITOR),
    "POST /api/v1/notices/deliveries/{delivery_id}/retry": staff(),  # admin only
    # the public transparency page
    "GET /": PUBLIC,
}


def _table() -> dict[Route, Access]:
    services: tuple[tuple[Service, dict[str, Access]], ...] = (
        ("donation", _DONATION),
        ("warehouse", _WAREHOUSE),
        ("notification", _NOTIFICATION),
    )
    table: dict[Route, Access] = {}
    for service, routes in services:
        for key, access in {**_COMMON, **routes}.items():
            method, path = key.split(" ", 1)
            table[(service, method, path)] = access
    return table


POLICY: Final[dict[Route, Access]] = _table()


# --------------------------------------------------------------------------- organisation scope

# docs/warehouse.md, "Organisations": every warehouse belongs to one organisation (the district
# branch FH or a town branch); a town branch's staff see and change only their organisation's
# warehouses and the dispatches from (or, a transfer, into) them; district staff reach all;
# the auditor reads all and changes nothing (the roles above). Refused: 403 with a message
# naming the warehouse's organisation and the caller's. ``test_matrix.py`` runs each case
# against the warehouse app: a warehouse keeper of ``org`` acting on ``warehouse``.
ScopeAction = Literal["confirm an inbound", "record a stock count", "write off stock", "read"]


@dataclass(frozen=True)
class ScopeCase:
    org: str  # the keeper's organisation (the token's org claim)
    action: ScopeAction
    warehouse: str  # a town station: ST-<town code>, belonging to that town's branch
    allowed: bool


SCOPE_WAREHOUSES: Final = {"ST-XK": "溪口镇", "ST-DY": "大堰镇"}
SCOPE_ACTIONS: Final[tuple[ScopeAction, ...]] = (
    "confirm an inbound",
    "record a stock count",
    "write off stock",
    "read",
)
SCOPE: Final[tuple[ScopeCase, ...]] = tuple(
    ScopeCase(org, action, warehouse, allowed)
    for action in SCOPE_ACTIONS
    for org, warehouse, allowed in (
        ("XK", "ST-DY", False),  # 溪口镇's keeper in 大堰镇: refused, and told why
        ("FH", "ST-DY", True),  # the district's keeper: everywhere
        ("XK", "ST-XK", True),  # 溪口镇's keeper at home
    )
)


def allowed(access: Access, role: str | None) -> bool:
    """Whether a valid token with ``role`` (``None``: a token without any role) passes."""
    if access in (PUBLIC, ANY_STAFF):
        return True
    assert isinstance(access, frozenset)
    return role is not None and role in access


# --------------------------------------------------------------------------- the document

_DOC_HEAD = """\
# 权限矩阵 · Authorization matrix

Who may call which route of the three services. Generated from the test suite's policy table
(`tests/integration/authz/policy.py`) with
`python -m tests.integration.authz.policy > docs/authorization.md`; a test fails when this
page and the table differ, and `tests/integration/authz/test_matrix.py` calls every route
below with every role, without a token and with a malformed, forged and expired token,
against the running apps.

- ✓ allowed; — refused with `403 {"error": {"code": "forbidden", …}}`.
- Every route in the tables below answers `401 {"error": {"code": "not_authenticated", …}}` (and
  `WWW-Authenticate: Bearer`) without a valid token: none, malformed, forged, expired or
  revoked.
- Revoked: a token issued before its account was disabled, its password reset or changed, or
  its roles or organisation changed gets `401 访问令牌已撤销，请重新登录 (token revoked)` on
  every service. A revocation is enforced by every service within 5 seconds while the broker
  is up (measured: 4–32 ms); if the broker is down, tokens expire within the token lifetime
  (`DONATION_TOKEN_TTL_MINUTES`, 480 minutes) at the latest
  ([decision 010](decisions/010-token-revocation.md), [runbook](operations.md#revoked-tokens)).
- **public**: no login needed; a token changes nothing. **any staff**: any valid token, even
  one without a role. `admin` passes every role check.
- Tokens come from the donation service (`POST /api/v1/auth/token`); roles are explained in
  the [donation](donation.md), [warehouse](warehouse.md) and
  [alerts and notices](notification-alerts.md) guides. Besides the role, some actions have
  rules of their own (nobody approves their own disbursement or dispatch: `403`).
"""

_SCOPE_HEAD = """\
## 组织范围 Organisation scope

Every staff account belongs to one organisation (the token's `org` claim): the district branch
(`FH`, 奉化区红十字会) or one of the 12 town (street) branches; every warehouse belongs to one
too (`org_code`). On top of the roles above:

- **District staff** (`FH`) reach every warehouse. **The auditor** (监事会) reads everything and
  changes nothing (its role admits no write).
- **A town branch's staff** see and change only their organisation's warehouses: lists (stock,
  lots, stock card, counts, inbounds, dispatches, warehouses) show only those; reading one of
  another organisation's (a warehouse, an inbound, a stock count, a dispatch, or a list filtered
  by its `warehouse_code`) and every write on one (register or confirm an inbound, a stock
  count or write-off, safety stock, create or edit a warehouse, request a dispatch from it,
  approve, reject, cancel, pick, ship) get `403` with a message that says why:
  `无权操作其他组织的仓库：仓库 ST-DY 属于大堰镇红十字会，您属于溪口镇红十字会 (warehouse ST-DY
  belongs to 大堰镇红十字会; you act for 溪口镇红十字会)`.
- A dispatch belongs to the organisation of its source warehouse; a transfer's destination
  organisation also reads it and may sign it off (its goods land there). Goods gifts not yet
  received at a warehouse are listed to every branch (any may receive them). The district-wide
  expiry scan is run by district staff only.
- **Staff accounts and the register** (donation service, role `admin`): an admin of the
  district branch manages every account and the organisation register; an admin of a town
  branch only the accounts of their own organisation (reading, creating, changing, resetting,
  disabling or unlocking another's, or moving one elsewhere: `403` "只能管理本组织（…）的账号"),
  and registers no organisation (`403`). Every staff member reads the register
  ([donation guide](donation.md#staff-accounts-账号); checked in
  `tests/integration/donation/test_staff_accounts.py`).

Checked by `test_matrix.py` (a warehouse keeper of each organisation, on a station of each):
"""

_SERVICE_TITLE = {
    "donation": "捐赠服务 Donation service (:8001)",
    "warehouse": "仓储服务 Warehouse service (:8002)",
    "notification": "公示与通知服务 Notification service (:8003)",
}


def render() -> str:
    lines = [_DOC_HEAD.rstrip("\n")]
    header = "| route | " + " | ".join(f"`{r}`" for r in ROLES) + " |"
    rule = "|---|" + ":-:|" * len(ROLES)
    for service in SERVICES:
        lines += ["", f"## {_SERVICE_TITLE[service]}", ""]
        public = [(m, p) for (s, m, p), a in POLICY.items() if s == service and a == PUBLIC]
        lines += [header, rule]
        for (s, method, path), access in POLICY.items():
            if s != service or access == PUBLIC:
                continue
            if access == ANY_STAFF:
                cells = ["✓"] * len(ROLES)
                note = " (any staff)"
            else:
                cells = ["✓" if allowed(access, r) else "—" for r in ROLES]
                note = ""
            lines.append(f"| `{method} {path}`{note} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Public (no login): " + ", ".join(f"`{m} {p}`" for m, p in public) + ".",
        ]
    lines += ["", _SCOPE_HEAD.rstrip("\n"), ""]
    lines += ["| keeper of | acts at | " + " | ".join(SCOPE_ACTIONS) + " |"]
    lines += ["|---|---|" + ":-:|" * len(SCOPE_ACTIONS)]
    pairs = dict.fromkeys((c.org, c.warehouse) for c in SCOPE)
    for org, warehouse in pairs:
        cells = [
            "✓" if c.allowed else "403"
            for action in SCOPE_ACTIONS
            for c in SCOPE
            if (c.org, c.warehouse, c.action) == (org, warehouse, action)
        ]
        lines.append(f"| `{org}` | `{warehouse}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
