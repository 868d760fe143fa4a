from django.urls import path

from editorial.views import (
    briefs,
    comments,
    corrections,
    drafts,
    editing,
    notifications,
    outline,
    publishing,
    queue,
    rewrites,
    signoff,
)

app_name = "editorial"
urlpatterns = [
    path("", queue.queue, name="queue"),
    path("briefs/new/", briefs.brief_new, name="brief-new"),
    path("drafts/<int:pk>/", drafts.draft_detail, name="draft"),
    path("drafts/<int:pk>/live.json", drafts.draft_live, name="draft-live"),
    path("drafts/<int:pk>/diff/", drafts.draft_diff, name="draft-diff"),
    path("drafts/<int:pk>/edit/", editing.draft_edit, name="draft-edit"),
    path("drafts/<int:pk>/revisions/<int:revision_id>/restore/", drafts.revision_restore, name="revision-restore"),
    path("drafts/<int:pk>/gates/<int:gate_id>/", signoff.gate_action, name="gate-action"),
    path("drafts/<int:pk>/publish/", publishing.publish, name="publish"),
    path("drafts/<int:pk>/retry/", drafts.retry, name="retry"),
]
urlpatterns += [  # the desk queue: bulk actions, who is reviewing what
    path("queue/bulk/", queue.queue_bulk, name="queue-bulk"),
    path("drafts/<int:pk>/claim/", queue.claim, name="draft-claim"),
    path("drafts/<int:pk>/assign/", queue.assign, name="draft-assign"),
    path("drafts/<int:pk>/unassign/", queue.unassign, name="draft-unassign"),
]
urlpatterns += [  # comments and notifications
    path("drafts/<int:pk>/comments/", comments.comments_panel, name="comments"),
    path("drafts/<int:pk>/threads/<int:thread_id>/reply/", comments.thread_reply, name="thread-reply"),
    path("drafts/<int:pk>/threads/<int:thread_id>/resolve/", comments.thread_resolve, name="thread-resolve"),
    path("drafts/<int:pk>/threads/<int:thread_id>/reopen/", comments.thread_reopen, name="thread-reopen"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification-read"),
    path("notifications/read-all/", notifications.notification_read_all, name="notifications-read-all"),
    path("notifications/settings/", notifications.notification_settings, name="notification-settings"),
]
urlpatterns += [  # section rewrites (proposals) and the outline checkpoint
    path("drafts/<int:pk>/regenerate/", rewrites.regenerate, name="regenerate"),
    path("drafts/<int:pk>/proposals/", rewrites.proposals, name="proposals"),
    path("drafts/<int:pk>/proposals/<int:proposal_id>/accept/", rewrites.proposal_accept, name="proposal-accept"),
    path("drafts/<int:pk>/proposals/<int:proposal_id>/dismiss/", rewrites.proposal_dismiss, name="proposal-dismiss"),
    path("drafts/<int:pk>/outline/", outline.outline_approve, name="outline-approve"),
]
urlpatterns += [  # reviewer corrections as data
    path("corrections/", corrections.corrections, name="corrections"),
    path("corrections/export.jsonl", corrections.corrections_download, name="corrections-download"),
]
