"""DemoReceipt moved here from the governance app. Its table stays (`db_table`), so this only
takes the model into this app's state, and hands its content type over, so admin history and
permissions keep pointing at it."""
import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor, *, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model="demoreceipt").exists():
        ContentType.objects.using(db).filter(app_label=old, model="demoreceipt").update(app_label=new)


def forwards(apps, schema_editor):
    move_content_type(apps, schema_editor, old="governance", new="demo_cms")


def backwards(apps, schema_editor):
    move_content_type(apps, schema_editor, old="demo_cms", new="governance")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("governance", "0004_api_delivery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DemoReceipt",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("webhook_id", models.CharField(blank=True, max_length=64)),
                        ("headers", models.JSONField(default=dict)),
                        ("body", models.TextField()),
                        ("verified", models.BooleanField()),
                        ("error", models.TextField(blank=True)),
                        ("received_at", models.DateTimeField(auto_now_add=True)),
                        ("connector", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to="governance.connector")),
                    ],
                    options={
                        "db_table": "governance_demoreceipt",
                        "ordering": ["-received_at"],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
