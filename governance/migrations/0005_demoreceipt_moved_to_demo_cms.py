"""DemoReceipt now belongs to `aios.demo_cms` (see its 0001): the table stays, only the state moves."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("governance", "0004_api_delivery"),
        ("demo_cms", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="DemoReceipt")],
            database_operations=[],
        ),
    ]
