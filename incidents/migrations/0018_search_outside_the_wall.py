"""Text search (PostgreSQL only, incidents.selectors.incidents_search):

- for the people outside the security wall, a GIN index on the search vector of the
  incidents that are not security incidents (an expression: NULL for security incidents),
  so that a word found only in security incidents ("ransomware") has no entry for them;
- the same two vectors over open incidents alone, for the queue (open by default) and its
  counts: a common phrase ("month-end") there is a bitmap of a few thousand entries
  instead of one of every incident holding its words."""

from django.db import migrations

# models.OPEN_Q as PostgreSQL has it (the partial indexes of models.py say it the same way).
OPEN = "status IN ('new', 'assigned', 'in_progress', 'on_hold')"

CREATE = [
    """CREATE INDEX incident_search_nonsecurity ON incidents_incident USING gin (
         (CASE WHEN is_security THEN NULL::tsvector ELSE search_vector END)
       )""",
    f"""CREATE INDEX incident_open_search ON incidents_incident USING gin (search_vector) WHERE {OPEN}""",
    f"""CREATE INDEX incident_open_search_nonsecurity ON incidents_incident USING gin (
         (CASE WHEN is_security THEN NULL::tsvector ELSE search_vector END)
       ) WHERE {OPEN}""",
    # The expression's statistics: gather them now.
    "ANALYZE incidents_incident",
]
DROP = [
    "DROP INDEX IF EXISTS incident_search_nonsecurity",
    "DROP INDEX IF EXISTS incident_open_search",
    "DROP INDEX IF EXISTS incident_open_search_nonsecurity",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("incidents", "0017_queue_cover_indexes")]
    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
