"""Money that never gets stuck: a closed project's remainder executed, disbursements reversed or
corrected as new entries, refunds above a threshold approved by a second person; each project
belongs to an organisation.

- ``projects.org_code``: the organisation a project belongs to, a reference to
  ``organisations``: a town's 博爱家园 project (``BOAI-JY-<town>``) its town branch, the others
  the district branch ``FH``.
- ``donations.moved_to_project_code``: the project a gift's unused fen now belong to, once a
  closed project's remainder moved them there (NULL: its designation, ``project_code``).
- ``remainder_consents``: a donor's consent that their designated gift moves from a closed
  project (how it was obtained, by whom, when; who recorded it).
- ``remainder_moves``: what a remainder decision did with each gift's remaining fen:
  ``transferred`` (to the target project), ``waiting`` (no consent yet), ``refund_pending``
  (a refund awaiting a second person) or ``refunded``; ``amount_fen`` is the fen concerned.
- ``disbursement_reversals``: a reversal (or a correction: a reversal plus a replacement
  disbursement) of an approved disbursement, entered by one account and approved by another;
  ``allocation_releases``: the fen each gift got back when it was approved. A disbursement's
  status may now be ``reversed``.
- ``refund_requests``: a refund above ``DONATION_REFUND_FOUR_EYES_FEN``, requested by one
  account, approved (then booked) or rejected by another.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DDL = [
    "ALTER TABLE projects ADD COLUMN org_code VARCHAR(16) NOT NULL DEFAULT 'FH' "
    "REFERENCES organisations (code)",
    "CREATE INDEX ix_projects_org ON projects (org_code)",
    # a town's 博爱家园 project is its town branch's (the standing projects are the district's)
    "UPDATE projects p SET org_code = o.code FROM organisations o "
    "WHERE o.kind = 'town' AND o.town = p.town AND p.code LIKE 'BOAI-JY-%'",
    "ALTER TABLE donations ADD COLUMN moved_to_project_code VARCHAR(32) REFERENCES projects (code)",
    "CREATE INDEX ix_donations_moved_to ON donations (moved_to_project_code) "
    "WHERE moved_to_project_code IS NOT NULL",
    """
    CREATE TABLE remainder_consents (
        id UUID PRIMARY KEY,
        project_code VARCHAR(32) NOT NULL REFERENCES projects (code),
        donation_id UUID NOT NULL REFERENCES donations (id),
        method VARCHAR(20) NOT NULL
            CHECK (method IN ('phone', 'written', 'email', 'in_person', 'online')),
        obtained_by VARCHAR(100) NOT NULL,
        obtained_at TIMESTAMPTZ NOT NULL,
        note VARCHAR(500),
        recorded_at TIMESTAMPTZ NOT NULL,
        recorded_by VARCHAR(64) NOT NULL,
        UNIQUE (project_code, donation_id)
    )
    """,
    """
    CREATE TABLE remainder_moves (
        id UUID PRIMARY KEY,
        project_code VARCHAR(32) NOT NULL REFERENCES remainder_decisions (project_code),
        donation_id UUID NOT NULL REFERENCES donations (id),
        outcome VARCHAR(16) NOT NULL
            CHECK (outcome IN ('transferred', 'waiting', 'refund_pending', 'refunded')),
        to_project_code VARCHAR(32) REFERENCES projects (code),
        amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
        consent_id UUID REFERENCES remainder_consents (id),
        refund_request_id UUID,
        created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR(64) NOT NULL,
        moved_at TIMESTAMPTZ,
        UNIQUE (project_code, donation_id),
        CHECK (outcome <> 'transferred' OR (to_project_code IS NOT NULL AND consent_id IS NOT NULL
            AND moved_at IS NOT NULL))
    )
    """,
    "CREATE INDEX ix_remainder_moves_donation ON remainder_moves (donation_id)",
    "CREATE INDEX ix_remainder_moves_to ON remainder_moves (to_project_code) "
    "WHERE outcome = 'transferred'",
    "ALTER TABLE disbursements DROP CONSTRAINT IF EXISTS disbursements_status_check",
    "ALTER TABLE disbursements ADD CONSTRAINT disbursements_status_check "
    "CHECK (status IN ('pending', 'approved', 'rejected', 'reversed'))",
    "ALTER TABLE disbursements ADD COLUMN corrects_id UUID REFERENCES disbursements (id)",
    """
    CREATE TABLE disbursement_reversals (
        id UUID PRIMARY KEY,
        disbursement_id UUID NOT NULL REFERENCES disbursements (id),
        kind VARCHAR(10) NOT NULL CHECK (kind IN ('reversal', 'correction')),
        replacement_id UUID REFERENCES disbursements (id),
        reason VARCHAR(500) NOT NULL,
        status VARCHAR(10) NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'approved', 'rejected')),
        entered_by VARCHAR(64) NOT NULL,
        approved_by VARCHAR(64),
        approved_at TIMESTAMPTZ,
        reject_reason VARCHAR(500),
        created_at TIMESTAMPTZ NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        CHECK ((kind = 'correction') = (replacement_id IS NOT NULL))
    )
    """,
    # one live (pending or approved) reversal per disbursement
    "CREATE UNIQUE INDEX ux_disbursement_reversals_live ON disbursement_reversals "
    "(disbursement_id) WHERE status <> 'rejected'",
    """
    CREATE TABLE allocation_releases (
        id BIGSERIAL PRIMARY KEY,
        reversal_id UUID NOT NULL REFERENCES disbursement_reversals (id),
        disbursement_id UUID NOT NULL REFERENCES disbursements (id),
        donation_id UUID NOT NULL REFERENCES donations (id),
        amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
        created_at TIMESTAMPTZ NOT NULL,
        UNIQUE (reversal_id, donation_id)
    )
    """,
    "CREATE INDEX ix_allocation_releases_donation ON allocation_releases (donation_id)",
    """
    CREATE TABLE refund_requests (
        id UUID PRIMARY KEY,
        donation_id UUID NOT NULL REFERENCES donations (id),
        amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
        reason VARCHAR(500) NOT NULL,
        source VARCHAR(12) NOT NULL DEFAULT 'refund' CHECK (source IN ('refund', 'remainder')),
        status VARCHAR(10) NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'approved', 'rejected')),
        requested_by VARCHAR(64) NOT NULL,
        decided_by VARCHAR(64),
        decided_at TIMESTAMPTZ,
        reject_reason VARCHAR(500),
        created_at TIMESTAMPTZ NOT NULL,
        version INTEGER NOT NULL DEFAULT 1
    )
    """,
    "CREATE UNIQUE INDEX ux_refund_requests_pending ON refund_requests (donation_id) "
    "WHERE status = 'pending'",
    "CREATE INDEX ix_refund_requests_status ON refund_requests (status, created_at)",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE refund_requests")
    op.execute("DROP TABLE allocation_releases")
    op.execute("DROP TABLE disbursement_reversals")
    op.execute("ALTER TABLE disbursements DROP COLUMN corrects_id")
    op.execute("UPDATE disbursements SET status = 'approved' WHERE status = 'reversed'")
    op.execute("ALTER TABLE disbursements DROP CONSTRAINT disbursements_status_check")
    op.execute(
        "ALTER TABLE disbursements ADD CONSTRAINT disbursements_status_check "
        "CHECK (status IN ('pending', 'approved', 'rejected'))"
    )
    op.execute("DROP TABLE remainder_moves")
    op.execute("DROP TABLE remainder_consents")
    op.execute("DROP INDEX ix_donations_moved_to")
    op.execute("ALTER TABLE donations DROP COLUMN moved_to_project_code")
    op.execute("DROP INDEX ix_projects_org")
    op.execute("ALTER TABLE projects DROP COLUMN org_code")
