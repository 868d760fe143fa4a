"""The agents' admin: Django's autodiscovery imports this package, which registers every model
through its submodules (one per domain)."""
from agents.admin import budgets, injection, knowledge, runs, templates, triage, versions  # noqa: F401 - registers the admins
