"""The configuration stamp (procedures.config_cache): a table of one row, and a trigger on
each configuration table that gives the row a new random value on every write."""

from django.db import migrations, models

TABLES = (
    "procedures_calendar",
    "procedures_category",
    "procedures_procedure",
    "procedures_procedureversion",
    "procedures_service",
    "skills_team",
    "procedures_prioritymatrix",
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION procedures_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO procedures_configstamp (id, value) VALUES (1, md5(random()::text || clock_timestamp()::text))
    ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
    RETURN NULL;
END
$$
"""
SQLITE_STAMP = (
    "INSERT INTO procedures_configstamp (id, value) VALUES (1, lower(hex(randomblob(16)))) "
    "ON CONFLICT(id) DO UPDATE SET value = excluded.value"
)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION procedures_config_changed()"
            )
        schema_editor.execute("INSERT INTO procedures_configstamp (id, value) VALUES (1, md5(random()::text))")
    elif vendor == "sqlite":
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_config_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN {SQLITE_STAMP}; END"
                )
        schema_editor.execute(f"{SQLITE_STAMP.split(' ON CONFLICT')[0]}")
    else:  # another database: no trigger, so no stamp row, so nothing is kept (always read)
        return


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS procedures_config_changed()")
    elif vendor == "sqlite":
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_config_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0004_service_is_public"),
        ("skills", "0002_person_changes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConfigStamp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.CharField(max_length=64)),
            ],
            options={"verbose_name": "configuration stamp"},
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
