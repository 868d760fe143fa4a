from __future__ import annotations

from django.db import models


class DemoReceipt(models.Model):
    """What the built-in demo CMS receiver got, and whether its signature verified."""

    connector = models.ForeignKey("governance.Connector", null=True, blank=True, on_delete=models.SET_NULL)
    webhook_id = models.CharField(max_length=64, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    verified = models.BooleanField()
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "governance_demoreceipt"  # the model moved here from the governance app; its rows stayed
        ordering = ["-received_at"]
