"""Audit chain keyed with HMAC-SHA256 from the next row on; SQLite refuses UPDATE and DELETE on audit_log.

The rows already in the chain keep their plain SHA-256 hashes (nothing in audit_log is rewritten: on
PostgreSQL its trigger would refuse that anyway). The head row records the first seq hashed with the
audit key and the key's HMAC of that seq, so the switch-over cannot be moved without the key. The key
itself (KEFU_AUDIT_KEY or the instance folder's audit_key) never enters the database.

SQLite gets the guards PostgreSQL has had since 0001: triggers refusing UPDATE and DELETE on
audit_log (SQLite has no TRUNCATE). Both databases now also refuse deleting the chain head row.
A later batch migration that recreates audit_log on SQLite drops its triggers: recreate them there.

Revision ID: 0008_audit_hmac
Revises: 0007_case_anonymise
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_audit_hmac"
down_revision = "0007_case_anonymise"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = {
    "audit_log_no_update": "BEFORE UPDATE ON audit_log BEGIN "
                           "SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "audit_log_no_delete": "BEFORE DELETE ON audit_log BEGIN "
                           "SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
    "audit_chain_head_no_delete": "BEFORE DELETE ON audit_chain_head BEGIN "
                                  "SELECT RAISE(ABORT, 'audit_chain_head is kept: DELETE refused'); END",
}


def upgrade():
    from app.audit import audit_key, switch_over_tag  # the key is the running app's (config.audit_key)

    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hmac_from_seq", sa.BigInteger(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("hmac_from_tag", sa.String(length=64), nullable=False, server_default=""))

    bind = op.get_bind()
    lock = " FOR UPDATE" if bind.dialect.name == "postgresql" else ""
    seq = bind.execute(sa.text(f"SELECT seq FROM audit_chain_head WHERE id = 1{lock}")).scalar_one()
    first_keyed = seq + 1
    bind.execute(sa.text("UPDATE audit_chain_head SET hmac_from_seq = :seq, hmac_from_tag = :tag WHERE id = 1"),
                 {"seq": first_keyed, "tag": switch_over_tag(audit_key(), first_keyed)})

    if bind.dialect.name == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    elif bind.dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION kefu_audit_chain_head_kept() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_chain_head is kept: % refused', TG_OP;
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
                   "FOR EACH ROW EXECUTE FUNCTION kefu_audit_chain_head_kept()")
        op.execute("CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION kefu_audit_chain_head_kept()")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_delete ON audit_chain_head")
        op.execute("DROP FUNCTION IF EXISTS kefu_audit_chain_head_kept()")
    # Rows appended since the upgrade are HMAC'd: after a downgrade the old code cannot verify them.
    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.drop_column("hmac_from_tag")
        batch_op.drop_column("hmac_from_seq")
