from django.urls import path

from editorial import views, views_collab, views_regen

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
urlpatterns += [  # comments and notifications (editorial/views_collab.py)
    path("drafts/<int:pk>/comments/", views_collab.comments_panel, name="comments"),
    path("drafts/<int:pk>/threads/<int:thread_id>/reply/", views_collab.thread_reply, name="thread-reply"),
    path("drafts/<int:pk>/threads/<int:thread_id>/resolve/", views_collab.thread_resolve, name="thread-resolve"),
    path("drafts/<int:pk>/threads/<int:thread_id>/reopen/", views_collab.thread_reopen, name="thread-reopen"),
    path("notifications/", views_collab.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", views_collab.notification_read, name="notification-read"),
    path("notifications/read-all/", views_collab.notification_read_all, name="notifications-read-all"),
    path("notifications/settings/", views_collab.notification_settings, name="notification-settings"),
]

urlpatterns += [  # regen: section proposals and the outline checkpoint (editorial/views_regen.py)
    path("drafts/<int:pk>/regenerate/", views_regen.regenerate, name="regenerate"),
    path("drafts/<int:pk>/proposals/", views_regen.proposals, name="proposals"),
    path("drafts/<int:pk>/proposals/<int:proposal_id>/accept/", views_regen.proposal_accept, name="proposal-accept"),
    path("drafts/<int:pk>/proposals/<int:proposal_id>/dismiss/", views_regen.proposal_dismiss, name="proposal-dismiss"),
    path("drafts/<int:pk>/outline/", views_regen.outline_approve, name="outline-approve"),
]
