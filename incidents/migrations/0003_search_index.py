"""Full-text search (PostgreSQL only): a stored generated tsvector column and a GIN index
on it, so a search reads the index and never re-computes a document. SQLite (embedded
mode) has neither and searches with LIKE; the column is outside Django's model state."""

from django.db import migrations

CREATE = [
    """ALTER TABLE incidents_incident ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
         to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(description, ''))
       ) STORED""",
    "CREATE INDEX incident_search ON incidents_incident USING gin (search_vector)",
]
DROP = [
    "DROP INDEX IF EXISTS incident_search",
    "ALTER TABLE incidents_incident DROP COLUMN IF EXISTS search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_initial")]
    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
