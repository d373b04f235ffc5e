from django.db import migrations


def _create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite (embedded mode) searches with LIKE
    from incidents.models import search_index

    schema_editor.add_index(apps.get_model("incidents", "Incident"), search_index())


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from incidents.models import search_index

    schema_editor.remove_index(apps.get_model("incidents", "Incident"), search_index())


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_initial")]
    operations = [migrations.RunPython(_create, _drop)]
