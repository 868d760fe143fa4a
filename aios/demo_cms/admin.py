from __future__ import annotations

from django.contrib import admin

from aios.admin_history import ReadOnlyHistoryAdmin
from aios.demo_cms.models import DemoReceipt


@admin.register(DemoReceipt)
class DemoReceiptAdmin(ReadOnlyHistoryAdmin):
    list_display = ["received_at", "connector", "webhook_id", "verified"]
