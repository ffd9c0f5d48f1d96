"""Policy: which alert (name and labels) maps to which action, with its parameters and limits.

A YAML file validated like the configuration: unknown keys are errors, every error is reported
with its path, and each rule's `parameters` are checked against its action's own model. The first
matching rule wins. A rule never widens what an action may do; it only selects, tunes and limits.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from remediator.actions.clear_cli_constraints import ClearCliConstraintsParams
from remediator.actions.resource_cleanup import ResourceCleanupParams
from remediator.actions.resync_target import ResyncStandbyParams
from remediator.config import ConfigError, StrictModel, read_yaml, validation_messages
from remediator.models import Alert

DEFAULT_POLICY = "default_policy.yml"


class Match(StrictModel):
    alertnames: tuple[str, ...] = Field(default=(), description="any of these (empty: any name)")
    labels: dict[str, str] = Field(default_factory=dict, description="all of these, exactly")

    @model_validator(mode="after")
    def _not_everything(self) -> Match:
        if not self.alertnames and not self.labels:
            raise ValueError("a rule must match on alertnames or labels, not on everything")
        return self

    def matches(self, alert: Alert) -> bool:
        if self.alertnames and alert.alertname not in self.alertnames:
            return False
        return all(alert.labels.get(k) == v for k, v in self.labels.items())


class Attempts(StrictModel):
    max_attempts: int = Field(default=3, ge=1)
    window_seconds: float = Field(default=86400, gt=0)


class _Rule(StrictModel):
    name: str
    match: Match
    cooldown_seconds: float = Field(default=900, ge=0)
    attempts: Attempts = Field(default_factory=Attempts)
    circuit_failures: int = Field(
        default=1, ge=1, description="failed jobs in a row (action, target) that open the circuit"
    )
    dry_run: bool = False


class ResourceCleanupRule(_Rule):
    action: Literal["resource_cleanup"]
    parameters: ResourceCleanupParams = Field(default_factory=ResourceCleanupParams)


class ClearCliConstraintsRule(_Rule):
    action: Literal["clear_cli_constraints"]
    parameters: ClearCliConstraintsParams = Field(default_factory=ClearCliConstraintsParams)


class ResyncStandbyRule(_Rule):
    action: Literal["resync_standby"]
    parameters: ResyncStandbyParams = Field(default_factory=ResyncStandbyParams)


Rule = Annotated[
    ResourceCleanupRule | ClearCliConstraintsRule | ResyncStandbyRule,
    Field(discriminator="action"),
]


class Policy(StrictModel):
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule names: {', '.join(duplicates)}")
        return self

    def match(self, alert: Alert) -> Rule | None:
        return next((r for r in self.rules if r.match.matches(alert)), None)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


def policy_from_mapping(data: Any, source: str) -> Policy:
    try:
        return Policy.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigError(source, validation_messages(exc)) from exc


def load_policy(path: Path | None) -> Policy:
    """The policy file, or the shipped default when `path` is None. Raises ConfigError."""
    if path is not None:
        return policy_from_mapping(read_yaml(path), str(path))
    text = resources.files("remediator").joinpath(DEFAULT_POLICY).read_text()
    return policy_from_mapping(yaml.safe_load(text), f"remediator/{DEFAULT_POLICY}")
