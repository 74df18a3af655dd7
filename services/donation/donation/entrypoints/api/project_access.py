"""Who may act on projects, their disbursements and their follow-ups, and the errors their
routes declare alike: shared by ``projects.py``, ``disbursements.py`` and ``follow_ups.py``."""

from __future__ import annotations

from shared.auth import Role, require_roles
from shared.errors import NotFound, PreconditionFailed, PreconditionRequired
from shared.openapi import Declared

Manager = require_roles(Role.FINANCE)
Approver = require_roles(Role.APPROVER, Role.FINANCE)
Visitor = require_roles(Role.FINANCE, Role.APPROVER, Role.DISPATCHER)
Reader = require_roles(Role.FINANCE, Role.APPROVER, Role.AUDITOR, Role.DISPATCHER)

NO_PROJECT: Declared = (NotFound, "No such project")
VERSION: tuple[Declared, ...] = (
    (PreconditionFailed, "Version mismatch"),
    (PreconditionRequired, "No version"),
)
