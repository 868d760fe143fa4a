"""The audit log is append-only in the database itself, not only in the admin and the services.

A row-level trigger refuses every UPDATE and DELETE of an audit event, whoever issues it (the ORM,
a raw query, a cascade, a console session).

TRUNCATE is deliberately not guarded: Django's `flush` (which pytest-django runs after every
`transactional_db` test) empties all tables with one `TRUNCATE a, b, …` statement, so a guard would
make the whole flush fail, and a guard with a session-setting escape hatch stops nobody who can run
SQL. Removing every event, or the newest ones, is what `manage.py audit_verify --anchor <hash>`
catches instead; in production the application's database role should not own the table nor hold
the TRUNCATE privilege on it (the owner can always disable triggers).
"""
from django.db import migrations

FORWARD = r"""
CREATE FUNCTION governance_auditevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'governance_auditevent is append-only: % of audit event % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit events are never changed or deleted; record a new event instead.';
END;
$$;

CREATE TRIGGER governance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON governance_auditevent
    FOR EACH ROW EXECUTE FUNCTION governance_auditevent_append_only();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS governance_auditevent_append_only ON governance_auditevent;
DROP FUNCTION IF EXISTS governance_auditevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
