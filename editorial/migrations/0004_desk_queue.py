"""The desk queue: indexes for keyset pagination by time waiting, and full-text search."""
import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("editorial", "0003_api_delivery"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="draft",
            index=models.Index(fields=["status_changed_at", "id"], name="draft_waiting_idx"),
        ),
        migrations.AddIndex(
            model_name="draft",
            index=models.Index(
                condition=models.Q(("status__in", ["published", "retracted"]), _negated=True),
                fields=["status_changed_at", "id"],
                name="draft_open_waiting_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="draft",
            index=models.Index(fields=["status", "status_changed_at", "id"], name="draft_status_waiting_idx"),
        ),
        migrations.AddIndex(
            model_name="draft",
            index=models.Index(fields=["assignee", "status_changed_at", "id"], name="draft_assignee_waiting_idx"),
        ),
        migrations.AddIndex(
            model_name="draft",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("title", config="english"), name="draft_title_search"
            ),
        ),
        # Computed by PostgreSQL as each (immutable) revision is written; adding it rewrites the table once.
        migrations.AddField(
            model_name="revision",
            name="search",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector("content", config="english"),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="revision",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search"], name="revision_content_search"),
        ),
    ]
