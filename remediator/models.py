"""The Alertmanager webhook payload (version 4), validated; unknown fields are ignored.

Field names follow Alertmanager's `notify/webhook` Message and `template.Alert`. The top-level
`status` is "firing" when *any* alert of the group fires, so each alert's own `status` is what
counts. A firing alert's `endsAt` is Alertmanager's zero time (`0001-01-01T00:00:00Z`), which is
why `(fingerprint, startsAt)` identifies one firing episode.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Label values the remediator may use as hints (node, resource, constraint ids): pacemaker ids and
# node names fit; anything else (spaces, quotes, `$`, `;`, `/`) is refused before it goes near argv.
HINT_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]+$")
FINGERPRINT_PATTERN = re.compile(r"^[0-9A-Za-z]{1,64}$")
MAX_ALERTS = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Alert(_Model):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, value: str) -> str:
        if not FINGERPRINT_PATTERN.match(value):
            raise ValueError("fingerprint must be 1-64 letters or digits")
        return value

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("startsAt must carry a time zone (RFC 3339)")
        return value

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @cached_property  # intake reads it several times per alert; strftime is not free
    def starts_at_key(self) -> str:
        """`startsAt` normalised to UTC with microseconds, the second half of the dedupe key."""
        return self.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WebhookPayload(_Model):
    version: Literal["4"]
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Alert] = Field(max_length=MAX_ALERTS)


class PayloadError(Exception):
    """The body is not a valid Alertmanager v4 payload; `errors` says where and why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_payload(data: object) -> WebhookPayload:
    """Validate decoded JSON. Raises PayloadError with one 'path: message' per problem."""
    if not isinstance(data, dict):
        raise PayloadError(["(top level): expected a JSON object"])
    try:
        return WebhookPayload.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False, include_input=False):
            path = ".".join(str(part) for part in error["loc"]) or "(top level)"
            errors.append(f"{path}: {error['msg']}")
        raise PayloadError(errors) from exc


def valid_hint(value: str) -> bool:
    return bool(HINT_PATTERN.match(value)) and len(value) <= 128
