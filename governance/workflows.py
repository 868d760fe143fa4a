"""Checks that a workflow can complete: every stage has gates, every gate has people to sign it."""
from __future__ import annotations

from governance.models import Workflow


def workflow_problems(workflow: Workflow) -> list[str]:
    """Why this workflow could never complete; empty when it can."""
    if workflow.pk is None:
        return []
    problems = []
    stages = list(workflow.stages.prefetch_related("gates__group__user_set"))
    if not stages:
        problems.append(f"Workflow “{workflow.name}” has no stages.")
    for stage in stages:
        gates = list(stage.gates.all())
        if not gates:
            problems.append(f"Stage {stage.order} “{stage.name}” has no gates, so it can never be signed.")
        for gate in gates:
            if not any(user.is_active for user in gate.group.user_set.all()):
                problems.append(
                    f"Gate “{gate.name}” in stage {stage.order} is signed by the group “{gate.group.name}”, "
                    "which has no active members."
                )
    return problems
