"""The recipients register (issue 17): who the help reached, with privacy.

- ``recipients``: a person, a household (its head) or an organisation (a 博爱家园 site, a
  school, a village committee…). A person's or household head's 居民身份证号码 is never stored:
  only its keyed fingerprint (HMAC-SHA256 under ``DONATION_RECIPIENT_ID_KEY``) and its last 4
  characters; a person's fingerprint is unique, so the same person is registered once. The
  name is kept for staff; ``name_masked`` (王*明) is what lists and events show. A person
  counts 1 person and 1 household, a household its size and 1 household, an organisation
  neither (``household_size`` NULL). Scoped by ``org_code`` like the rest.
- ``disbursement_recipients``: the recipients a disbursement names, with an optional share
  in fen and the people and households it reached, fixed when it was entered.
- ``disbursements.repeat_acknowledged``: the approver saw the recipients' repeat receipts.
- ``delivered_dispatches`` and ``delivered_dispatch_recipients``: per dispatch the warehouse
  reported delivered, the recipients it named and the people and households they make, with
  the dispatch's project, so people reached can be counted per project.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE recipients (
            id UUID PRIMARY KEY,
            kind VARCHAR(12) NOT NULL CHECK (kind IN ('person', 'household', 'organisation')),
            name VARCHAR(200) NOT NULL,
            name_masked VARCHAR(200) NOT NULL,
            id_fingerprint CHAR(64),
            id_last4 CHAR(4),
            household_size INTEGER CHECK (household_size >= 1),
            town VARCHAR(20) NOT NULL,
            address VARCHAR(200),
            phone VARCHAR(32),
            org_code VARCHAR(16) NOT NULL REFERENCES organisations (code),
            org_kind VARCHAR(20) CHECK (org_kind IN
                ('boai_jiayuan', 'school', 'village_committee', 'other')),
            credit_code CHAR(18),
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR(64) NOT NULL,
            updated_at TIMESTAMPTZ,
            updated_by VARCHAR(64),
            version INTEGER NOT NULL DEFAULT 1,
            CONSTRAINT ck_recipients_fingerprint_pair
                CHECK ((id_fingerprint IS NULL) = (id_last4 IS NULL)),
            CONSTRAINT ck_recipients_person
                CHECK (kind <> 'person' OR (id_fingerprint IS NOT NULL AND household_size = 1)),
            CONSTRAINT ck_recipients_household
                CHECK (kind <> 'household' OR household_size IS NOT NULL),
            CONSTRAINT ck_recipients_organisation CHECK (
                (kind = 'organisation') = (org_kind IS NOT NULL)
                AND (kind = 'organisation' OR credit_code IS NULL)
                AND (kind <> 'organisation'
                     OR (id_fingerprint IS NULL AND household_size IS NULL))
            )
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX ux_recipients_person_id ON recipients (id_fingerprint) "
        "WHERE kind = 'person'"
    )
    op.execute(
        "CREATE INDEX ix_recipients_fingerprint ON recipients (id_fingerprint) "
        "WHERE id_fingerprint IS NOT NULL"
    )
    op.execute("CREATE INDEX ix_recipients_scope ON recipients (org_code, town, created_at)")
    op.execute(
        """
        CREATE TABLE disbursement_recipients (
            disbursement_id UUID NOT NULL REFERENCES disbursements (id),
            recipient_id UUID NOT NULL REFERENCES recipients (id),
            amount_fen BIGINT CHECK (amount_fen > 0),
            people INTEGER NOT NULL CHECK (people >= 0),
            households INTEGER NOT NULL CHECK (households >= 0),
            PRIMARY KEY (disbursement_id, recipient_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_disbursement_recipients_recipient "
        "ON disbursement_recipients (recipient_id)"
    )
    op.execute(
        "ALTER TABLE disbursements ADD COLUMN repeat_acknowledged BOOLEAN NOT NULL DEFAULT false"
    )
    op.execute(
        """
        CREATE TABLE delivered_dispatches (
            dispatch_id UUID PRIMARY KEY,
            dispatch_no VARCHAR(32) NOT NULL,
            project_code VARCHAR(32),
            incident_code VARCHAR(32),
            town VARCHAR(20),
            people_reached INTEGER NOT NULL CHECK (people_reached >= 0),
            households_reached INTEGER NOT NULL CHECK (households_reached >= 0),
            delivered_at TIMESTAMPTZ NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_delivered_dispatches_project ON delivered_dispatches "
        "(project_code, delivered_at) WHERE project_code IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE delivered_dispatch_recipients (
            dispatch_id UUID NOT NULL REFERENCES delivered_dispatches (dispatch_id),
            recipient_id UUID NOT NULL REFERENCES recipients (id),
            PRIMARY KEY (dispatch_id, recipient_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_delivered_dispatch_recipients_recipient "
        "ON delivered_dispatch_recipients (recipient_id)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE delivered_dispatch_recipients")
    op.execute("DROP TABLE delivered_dispatches")
    op.execute("ALTER TABLE disbursements DROP COLUMN repeat_acknowledged")
    op.execute("DROP TABLE disbursement_recipients")
    op.execute("DROP TABLE recipients")
