"""Follow-ups (回访) as a plan (issue 17): the visits due after a disbursement is approved or a
dispatch of a project is delivered, one set per recipient named (or one without), by the rule
of the project's category (``donation.domain.follow_up_plan``); each done with an outcome, a
1–5 satisfaction score when the recipient was reached, and photos.

- ``follow_up_visits``: one planned visit. Unique per (trigger, source, recipient, seq), so a
  replayed approval or delivery plans nothing twice. The rule's grace days are kept on the row:
  a later change of the rules does not move a visit already planned from on time to late.
  Recording its outcome writes a ``follow_ups`` row (``follow_up_id``), as a free-text visit is.
- ``visit_photos``: a photo of a visit, stored outside the database as a file named by its
  SHA-256 (``DONATION_ATTACHMENTS_DIR``); the same photo twice is one file, one row a visit.
- ``follow_ups.dispatch_id``: a visit after a delivery names the dispatch (neither a gift nor
  a disbursement).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

NO_RECIPIENT = "00000000-0000-0000-0000-000000000000"


def upgrade() -> None:
    op.execute("ALTER TABLE follow_ups ADD COLUMN dispatch_id UUID")
    op.execute("ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_check")
    op.execute(
        "ALTER TABLE follow_ups ADD CONSTRAINT ck_follow_ups_subject CHECK ("
        "disbursement_id IS NOT NULL OR donation_id IS NOT NULL OR dispatch_id IS NOT NULL)"
    )
    op.execute(
        "CREATE INDEX ix_follow_ups_dispatch ON follow_ups (dispatch_id) "
        "WHERE dispatch_id IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE follow_up_visits (
            id UUID PRIMARY KEY,
            project_code VARCHAR(32) NOT NULL REFERENCES projects (code),
            category VARCHAR(20) NOT NULL,
            trigger VARCHAR(12) NOT NULL CHECK (trigger IN ('disbursement', 'delivery')),
            disbursement_id UUID REFERENCES disbursements (id),
            dispatch_id UUID,
            dispatch_no VARCHAR(32),
            recipient_id UUID REFERENCES recipients (id),
            seq SMALLINT NOT NULL CHECK (seq >= 1),
            of_visits SMALLINT NOT NULL CHECK (of_visits >= seq),
            triggered_on DATE NOT NULL,
            due_on DATE NOT NULL CHECK (due_on >= triggered_on),
            grace_days INTEGER NOT NULL CHECK (grace_days >= 0),
            town VARCHAR(20),
            done_on DATE,
            outcome VARCHAR(12) CHECK (outcome IN ('reached', 'not_reached', 'problem')),
            satisfaction SMALLINT CHECK (satisfaction BETWEEN 1 AND 5),
            notes VARCHAR(2000),
            visitor VARCHAR(100),
            follow_up_id UUID REFERENCES follow_ups (id),
            recorded_by VARCHAR(64),
            recorded_at TIMESTAMPTZ,
            cancelled_at TIMESTAMPTZ,
            cancel_reason VARCHAR(200),
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ,
            version INTEGER NOT NULL DEFAULT 1,
            CONSTRAINT ck_follow_up_visits_source CHECK (
                (trigger = 'disbursement' AND disbursement_id IS NOT NULL AND dispatch_id IS NULL)
                OR (trigger = 'delivery' AND dispatch_id IS NOT NULL
                    AND dispatch_no IS NOT NULL AND disbursement_id IS NULL)
            ),
            CONSTRAINT ck_follow_up_visits_done CHECK (
                (done_on IS NULL) = (outcome IS NULL)
                AND (done_on IS NULL) = (visitor IS NULL)
                AND (done_on IS NULL) = (follow_up_id IS NULL)
                AND (done_on IS NULL) = (recorded_at IS NULL)
                AND (done_on IS NULL OR done_on >= triggered_on)
            ),
            CONSTRAINT ck_follow_up_visits_satisfaction CHECK (
                CASE WHEN outcome = 'reached' THEN satisfaction IS NOT NULL
                     ELSE satisfaction IS NULL END
            ),
            CONSTRAINT ck_follow_up_visits_cancelled CHECK (
                cancelled_at IS NULL OR (done_on IS NULL AND cancel_reason IS NOT NULL)
            )
        )
        """
    )
    op.execute(
        f"""
        CREATE UNIQUE INDEX ux_follow_up_visits_plan ON follow_up_visits (
            trigger, COALESCE(disbursement_id, dispatch_id),
            COALESCE(recipient_id, '{NO_RECIPIENT}'::uuid), seq
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_follow_up_visits_open ON follow_up_visits (due_on, id) "
        "WHERE done_on IS NULL AND cancelled_at IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_follow_up_visits_project ON follow_up_visits (project_code, due_on)"
    )
    op.execute(
        """
        CREATE TABLE visit_photos (
            visit_id UUID NOT NULL REFERENCES follow_up_visits (id),
            sha256 CHAR(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            content_type VARCHAR(20) NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
            size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
            uploaded_by VARCHAR(64) NOT NULL,
            uploaded_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (visit_id, sha256)
        )
        """
    )
    op.execute("CREATE INDEX ix_visit_photos_sha256 ON visit_photos (sha256)")


def downgrade() -> None:
    op.execute("DROP TABLE visit_photos")
    op.execute("DROP TABLE follow_up_visits")
    op.execute("DROP INDEX ix_follow_ups_dispatch")
    op.execute("ALTER TABLE follow_ups DROP CONSTRAINT ck_follow_ups_subject")
    op.execute("ALTER TABLE follow_ups DROP COLUMN dispatch_id")
    op.execute(
        "ALTER TABLE follow_ups ADD CONSTRAINT follow_ups_check "
        "CHECK (disbursement_id IS NOT NULL OR donation_id IS NOT NULL)"
    )
