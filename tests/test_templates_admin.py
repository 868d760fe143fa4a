"""Prompt templates in the admin: new versions as edited copies, a diff between any two versions, a
preview in chat and completion mode with variables checked against the schema, permissioned and
audited activation and roll back, and the rollback impact of a template version."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import assign_perm

from agents.modelops import templates
from agents.models import PromptTemplateVersion
from agents.pipeline.prompts import render_section_prompt
from editorial.models import Draft
from governance.gates import gate_states
from governance.models import AuditEvent
from governance.permissions import brand_member_add
from governance.signoffs import signoff_record
from tests.factories import UserFactory
from tests.helpers import draft_in_review, file_brief

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(world):
    """May read templates and add versions, but not activate them (yet)."""
    user = UserFactory(username="tess", is_staff=True)
    for codename in ("view_prompttemplate", "change_prompttemplate", "add_prompttemplateversion",
                     "view_prompttemplateversion"):
        user.user_permissions.add(Permission.objects.get(content_type__app_label="agents", codename=codename))
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, *args) -> str:
    return reverse(f"admin:agents_prompttemplate_{name}", args=args)


def version_data(**overrides) -> dict:
    data = {
        "system_text": "You write for {channel} in a {tone} voice.",
        "sections": json.dumps([{"heading": "Hook", "instruction": "Open with {cta}."},
                                {"heading": "Details", "instruction": "Say what is new."}]),
        "section_prompt": "Brief: {title}. {goal}\n{sources}\n## {heading}\n",
        "chat_prompt": "Write the section “{heading}” of “{title}” for {audience}. {instruction} End with: {cta}",
        "variables": json.dumps({"type": "object", "required": ["cta"],
                                 "properties": {"cta": {"type": "string", "maxLength": 40, "default": "Visit us"}}}),
        "note": "Chat prompt and a call to action",
    }
    return {**data, **overrides}


def test_a_new_version_starts_as_a_copy_of_the_active_one_and_is_not_active_until_activated(author, world):
    client = client_for(author)
    active = world.template.active_version
    form = client.get(url("version_new", world.template.pk)).content.decode()
    assert "A copy of <strong>v1</strong> (the active version)" in form
    assert "Brief: {title}. {goal}" in form and "Write part 1." in form
    response = client.post(url("version_new", world.template.pk), version_data())
    assert response.status_code == 302
    v2 = world.template.versions.get(number=2)
    assert v2.created_by == author and v2.chat_prompt.startswith("Write the section")
    assert v2.variables["properties"]["cta"]["default"] == "Visit us"
    world.template.refresh_from_db()
    assert world.template.active_version == active
    event = AuditEvent.objects.get(action="agents.prompttemplate.version_create")
    assert event.data["version"]["number"] == 2 and event.data["based_on"]["number"] == 1
    # Versions are immutable: no change or add page for them.
    assert client.get(reverse("admin:agents_prompttemplateversion_change", args=[v2.pk])).status_code == 200
    assert client.post(reverse("admin:agents_prompttemplateversion_change", args=[v2.pk]), {}).status_code == 403
    assert client.get(reverse("admin:agents_prompttemplateversion_add")).status_code == 403


@pytest.mark.parametrize(("overrides", "message"), [
    ({"sections": "[{\"heading\": \"\"}]"}, "each needs a non-empty “heading”"),
    ({"sections": "{oops"}, "Enter a valid JSON"),
    ({"section_prompt": "## {heding}\n"}, "Unknown placeholder {heding}"),
    ({"chat_prompt": "unbalanced {"}, "write literal braces as {{ and }}"),
    ({"variables": json.dumps({"type": "object", "properties": {"cta": {"type": "text"}}})}, "unknown type “text”"),
    ({"variables": json.dumps({"type": "object", "properties": {"title": {"type": "string"}}})},
     "clashes with a brief field"),
    ({"variables": json.dumps({"type": "object", "required": ["nope"], "properties": {"cta": {"type": "string"}}})},
     "must list names that appear in"),
])
def test_an_invalid_version_is_refused_with_a_clear_message_and_nothing_is_saved(author, world, overrides, message):
    response = client_for(author).post(url("version_new", world.template.pk), version_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert world.template.versions.count() == 1
    assert not AuditEvent.objects.filter(action="agents.prompttemplate.version_create").exists()


def test_someone_without_the_add_permission_cannot_add_a_version(world):
    viewer = UserFactory(username="vic", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="agents", codename="view_prompttemplate"))
    response = client_for(viewer).post(url("version_new", world.template.pk), version_data())
    assert response.status_code == 403 and world.template.versions.count() == 1


def _v2(author, world) -> PromptTemplateVersion:
    return templates.prompttemplate_version_create(
        user=author, template=world.template, system_text="You write for {channel} in a {tone} voice.",
        sections=[{"heading": "Part 1", "instruction": "Write part one."}, {"heading": "Closing", "instruction": ""}],
        section_prompt="Brief: {title}. {goal}\n{sources}\n## {heading}\n",
        chat_prompt="Write “{heading}” for {audience}. {instruction} Say: {cta}",
        variables={"type": "object", "properties": {"cta": {"type": "string", "maxLength": 20, "default": "Visit us"}}},
        note="second")


def test_the_diff_shows_word_changes_in_every_part_between_any_two_versions(author, world):
    v2 = _v2(author, world)
    v1 = world.template.active_version
    response = client_for(author).get(url("diff", world.template.pk), {"a": v1.pk, "b": v2.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert "v1 → v2" in html and "5 parts changed" in html
    assert "You write for {channel}<ins> in a {tone} voice</ins>." in html  # system text
    assert "Write part <del>1</del><ins>one</ins>." in html  # sections
    assert "<ins>Closing" in html.split("Sections")[1].split("</section>")[0]
    assert "<ins>Write “{heading}” for {audience}. {instruction} Say: {cta}</ins>" in html  # chat prompt
    assert "&quot;maxLength&quot;: 20" in html.split("Variables (schema)")[1]  # variables
    assert "Outline checkpoint <span class=\"quiet\">unchanged</span>" in html
    same = client_for(author).get(url("diff", world.template.pk), {"a": v2.pk, "b": v2.pk}).content.decode()
    assert "no differences" in same
    assert client_for(author).get(url("diff", world.template.pk), {"a": 999999}).status_code == 404


def test_the_preview_renders_each_section_for_chat_and_completion_models(author, world):
    v2 = _v2(author, world)
    response = client_for(author).get(url("preview", world.template.pk), {
        "version": v2.pk, "brand": "Northwind", "title": "Autumn roast", "goal": "Announce it",
        "audience": "regulars", "channel": "newsletter", "tone": "cheerful", "variables": '{"cta": "Come by"}'})
    html = response.content.decode()
    assert response.status_code == 200
    chat, completion = html.split('id="mode-chat"')[1].split('id="mode-completion"')
    # Chat: system message + the chat prompt as the user message, variables filled in.
    assert "You write for Newsletter in a cheerful voice." in chat
    assert "Write “Part 1” for regulars. Write part one. Say: Come by" in chat
    # Completion: one prompt, system text first, then the section prompt with the fenced sources.
    assert "You write for Newsletter in a cheerful voice.\n\nBrief: Autumn roast. Announce it" in completion
    assert "untrusted reference material" in completion and "## Closing" in completion
    assert "✓ The variables satisfy the version" in html


def test_the_preview_checks_variables_against_the_schema_and_uses_defaults(author, world):
    v2 = _v2(author, world)
    bad = client_for(author).get(url("preview", world.template.pk), {
        "version": v2.pk, "title": "T", "channel": "blog", "variables": '{"cta": "' + "x" * 30 + '", "extra": 1}'})
    assert "“cta” must have at most 20 characters." in bad.content.decode()
    brief_draft = file_brief(world, title="Filed brief")
    params = {"version": v2.pk, "brief": brief_draft.brief.pk, "channel": "blog", "variables": "{}"}
    # Only briefs of brands the admin may see can be picked: the preview would show their text.
    hidden = client_for(author).get(url("preview", world.template.pk), params)
    assert hidden.status_code == 400 and "Select a valid choice" in hidden.content.decode()
    brand_member_add(brand=world.brand, user=author)
    ok = client_for(author).get(url("preview", world.template.pk), params)
    html = ok.content.decode()
    assert "Filed brief" in html and "Say: Visit us" in html  # the schema's default


def test_the_preview_reports_an_invalid_schema_of_an_existing_version(author, world):
    broken = PromptTemplateVersion.objects.create(
        template=world.template, number=7, sections=[{"heading": "A"}], section_prompt="## {heading}",
        variables={"type": "array"})
    html = client_for(author).get(url("preview", world.template.pk), {
        "version": broken.pk, "title": "T", "channel": "blog"}).content.decode()
    assert "variables schema is not valid" in html and "must describe an object" in html


def test_render_section_prompt_uses_the_chat_prompt_only_for_chat_models(author, world):
    v2 = _v2(author, world)
    brief = file_brief(world).brief
    _, chat = render_section_prompt(version=v2, brief=brief, heading="H", instruction="I", sources=[], mode="chat")
    _, completion = render_section_prompt(version=v2, brief=brief, heading="H", instruction="I", sources=[])
    assert chat == "Write “H” for coffee lovers. I Say: Visit us"
    assert completion.startswith("Brief: Autumn roast.") and completion.endswith("## H\n")
    v1 = world.template.active_version  # no chat prompt: chat models get the section prompt
    assert render_section_prompt(version=v1, brief=brief, heading="H", instruction="", sources=[], mode="chat")[1] \
        == render_section_prompt(version=v1, brief=brief, heading="H", instruction="", sources=[])[1]


def test_activation_needs_the_object_permission_is_audited_and_new_briefs_use_it(author, world):
    v1, v2 = world.template.active_version, _v2(author, world)
    client = client_for(author)
    page = client.get(url("activate", world.template.pk, v2.pk)).content.decode()
    assert "You lack the permission" in page and "Compare v1 with v2" in page
    refused = client.post(url("activate", world.template.pk, v2.pk), {"reason": "try"})
    assert refused.status_code == 403
    world.template.refresh_from_db()
    assert world.template.active_version == v1

    assign_perm("agents.activate_prompttemplate", author, world.template)
    done = client.post(url("activate", world.template.pk, v2.pk), {"reason": "better hooks"})
    assert done.status_code == 302
    world.template.refresh_from_db()
    assert world.template.active_version == v2
    event = AuditEvent.objects.get(action="agents.prompttemplate.activate")
    assert event.actor_user == author and event.data["reason"] == "better hooks"
    assert event.data["before"] == {"active_version": {"id": v1.pk, "number": 1}}
    assert event.data["after"] == {"active_version": {"id": v2.pk, "number": 2}}
    assert file_brief(world).prompt_version == v2
    again = client.post(url("activate", world.template.pk, v2.pk), {})
    assert again.status_code == 400 and "already the active version" in again.content.decode()


def test_roll_back_restores_the_previously_active_version(author, world):
    v1, v2 = world.template.active_version, _v2(author, world)
    assign_perm("agents.activate_prompttemplate", author, world.template)
    client = client_for(author)
    nothing = client.post(url("rollback", world.template.pk), {})
    assert nothing.status_code == 400 and "No earlier active version" in nothing.content.decode()
    templates.prompttemplate_activate(user=author, template=world.template, version=v2)
    page = client.get(url("rollback", world.template.pk)).content.decode()
    assert "Roll back to v1" in page
    assert client.post(url("rollback", world.template.pk), {"reason": "v2 rambles"}).status_code == 302
    world.template.refresh_from_db()
    assert world.template.active_version == v1
    event = AuditEvent.objects.get(action="agents.prompttemplate.rollback")
    assert event.data["after"]["active_version"]["id"] == v1.pk and event.data["reason"] == "v2 rambles"
    assert file_brief(world).prompt_version == v1


def test_the_change_page_lists_versions_with_their_actions(author, world):
    v2 = _v2(author, world)
    assign_perm("agents.activate_prompttemplate", author, world.template)
    html = client_for(author).get(reverse("admin:agents_prompttemplate_change", args=[world.template.pk])).content.decode()
    assert "v1 <span class=\"mv-status mv-active\">Active</span>" in html
    assert url("activate", world.template.pk, v2.pk) in html
    assert f"?a={world.template.active_version_id}&amp;b={v2.pk}" in html
    for label in ("New version", "Compare versions", "Preview", "What it produced", "Copy to new version"):
        assert label in html


def test_the_impact_of_a_template_version_and_sending_its_drafts_back(author, world):
    v1 = world.template.active_version
    approved = draft_in_review(world)
    signoff_record(draft=approved, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=approved.current_revision_id)
    in_review = draft_in_review(world)
    v2 = _v2(author, world)
    Draft.objects.filter(pk=in_review.pk).update(prompt_version=v2)
    client = client_for(author)
    impact = client.get(url("impact", world.template.pk, v1.pk)).content.decode()
    assert f"#{approved.pk}<" in impact and f"#{in_review.pk}<" not in impact and "Approved" in impact
    assert client.post(url("send_back", world.template.pk, v1.pk), {}).status_code == 403
    assign_perm("agents.activate_prompttemplate", author, world.template)
    result = client.post(url("send_back", world.template.pk, v1.pk), {}).content.decode()
    assert "Sent back: 1 · skipped: 0" in result
    approved.refresh_from_db()
    assert approved.status == Draft.Status.IN_REVIEW
    assert "prompt template “Blog post” v1" in approved.status_reason
    assert {s.gate.slug: s.status for s in gate_states(approved)}["editorial"] == "pending"
    assert AuditEvent.objects.filter(action="agents.rollback.send_back", object_id=str(approved.pk)).count() == 1
    in_review.refresh_from_db()
    assert not in_review.revisions.filter(provenance__has_key="review_reset").exists()
