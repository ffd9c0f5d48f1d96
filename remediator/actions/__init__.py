"""The allowlisted actions. Each is: scope, target key, and evaluate (checks + plan)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from remediator.actions import clear_cli_constraints, resource_cleanup, resync_standby
from remediator.actions.base import Context, Evaluation, Hints, Scope
from remediator.config import RemediatorConfig


@dataclass(frozen=True)
class ActionSpec:
    name: str
    params_model: type[BaseModel]
    scope: Callable[[Hints, RemediatorConfig], Scope]
    target_key: Callable[[Hints], str]
    evaluate: Callable[[Context, Any], Evaluation]


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            resource_cleanup.NAME,
            resource_cleanup.ResourceCleanupParams,
            resource_cleanup.scope,
            resource_cleanup.target_key,
            resource_cleanup.evaluate,
        ),
        ActionSpec(
            clear_cli_constraints.NAME,
            clear_cli_constraints.ClearCliConstraintsParams,
            clear_cli_constraints.scope,
            clear_cli_constraints.target_key,
            clear_cli_constraints.evaluate,
        ),
        ActionSpec(
            resync_standby.NAME,
            resync_standby.ResyncStandbyParams,
            resync_standby.scope,
            resync_standby.target_key,
            resync_standby.evaluate,
        ),
    )
}
ACTION_NAMES = tuple(ACTIONS)
