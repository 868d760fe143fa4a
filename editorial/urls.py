from django.urls import path

from editorial import views

app_name = "editorial"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("briefs/new/", views.brief_new, name="brief-new"),
    path("drafts/<int:pk>/", views.draft_detail, name="draft"),
    path("drafts/<int:pk>/live.json", views.draft_live, name="draft-live"),
    path("drafts/<int:pk>/diff/", views.draft_diff, name="draft-diff"),
    path("drafts/<int:pk>/edit/", views.draft_edit, name="draft-edit"),
    path("drafts/<int:pk>/revisions/<int:revision_id>/restore/", views.revision_restore, name="revision-restore"),
    path("drafts/<int:pk>/gates/<int:gate_id>/", views.gate_action, name="gate-action"),
    path("drafts/<int:pk>/publish/", views.publish, name="publish"),
    path("drafts/<int:pk>/retry/", views.retry, name="retry"),
]
urlpatterns += [
    path("queue/bulk/", views.queue_bulk, name="queue-bulk"),
    path("drafts/<int:pk>/claim/", views.claim, name="draft-claim"),
    path("drafts/<int:pk>/assign/", views.assign, name="draft-assign"),
    path("drafts/<int:pk>/unassign/", views.unassign, name="draft-unassign"),
]
# Comments and notifications (views_collab).
from editorial import views_collab

urlpatterns += [
    path("drafts/<int:pk>/comments/", views_collab.comments_panel, name="comments"),
    path("drafts/<int:pk>/threads/<int:thread_id>/reply/", views_collab.thread_reply, name="thread-reply"),
    path("drafts/<int:pk>/threads/<int:thread_id>/resolve/", views_collab.thread_resolve, name="thread-resolve"),
    path("drafts/<int:pk>/threads/<int:thread_id>/reopen/", views_collab.thread_reopen, name="thread-reopen"),
    path("notifications/", views_collab.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", views_collab.notification_read, name="notification-read"),
    path("notifications/read-all/", views_collab.notification_read_all, name="notifications-read-all"),
    path("notifications/settings/", views_collab.notification_settings, name="notification-settings"),
]
