"""The Alertmanager webhook payload (version 4), validated; unknown fields are ignored.

Field names follow Alertmanager's `notify/webhook` Message and `template.Alert`. The top-level
`status` is "firing" when *any* alert of the group fires, so each alert's own `status` is what
counts. A firing alert's `endsAt` is Alertmanager's zero time (`0001-01-01T00:00:00Z`), which is
why `(fingerprint, startsAt)` identifies one firing episode.

Each alert is validated on its own: one malformed alert is rejected with its reasons and never
sinks the rest of its group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Label values the remediator may use as hints (node, resource, constraint ids): pacemaker ids and
# node names fit; anything else (spaces, quotes, `$`, `;`, `/`) is refused before it goes near argv.
# `\Z`, not `$`: `$` also matches before a final newline.
HINT_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]+\Z")
FINGERPRINT_PATTERN = re.compile(r"^[0-9A-Za-z]{1,64}\Z")
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
        return _fits_in_utc(value, "startsAt")

    @field_validator("ends_at")
    @classmethod
    def _ends(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo is None else _fits_in_utc(value, "endsAt")

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @cached_property  # intake reads it several times per alert; strftime is not free
    def starts_at_key(self) -> str:
        """`startsAt` normalised to UTC with microseconds, the second half of the dedupe key."""
        return self.starts_at.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _fits_in_utc(value: datetime, name: str) -> datetime:
    """Year 1 with a positive offset, or 9999 with a negative one, has no UTC time."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name} is outside years 1-9999 once in UTC") from None
    return value


class _Envelope(_Model):
    """The group around the alerts; the alerts themselves are validated one by one."""

    version: Literal["4"]
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Any] = Field(max_length=MAX_ALERTS)


@dataclass(frozen=True)
class RejectedAlert:
    """An alert of the group that is not valid: its position, fingerprint if any, the reasons."""

    index: int
    fingerprint: str | None
    errors: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "fingerprint": self.fingerprint, "errors": list(self.errors)}


@dataclass(frozen=True)
class WebhookPayload:
    items: tuple[Alert | RejectedAlert, ...]
    """The group's alerts in the order received, each valid or rejected with its reasons."""

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return tuple(item for item in self.items if isinstance(item, Alert))

    @property
    def rejected(self) -> tuple[RejectedAlert, ...]:
        return tuple(item for item in self.items if isinstance(item, RejectedAlert))


class PayloadError(Exception):
    """The body is not a valid Alertmanager v4 payload; `errors` says where and why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_payload(data: object) -> WebhookPayload:
    """Validate decoded JSON: the valid alerts, and the rejected ones with their reasons.

    Raises PayloadError (one 'path: message' per problem) when the envelope is invalid or when
    the group has alerts and none of them is valid."""
    if not isinstance(data, dict):
        raise PayloadError(["(top level): expected a JSON object"])
    try:
        envelope = _Envelope.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(_messages(exc)) from exc
    items: list[Alert | RejectedAlert] = []
    for index, item in enumerate(envelope.alerts):
        try:
            items.append(Alert.model_validate(item))
        except ValidationError as exc:
            errors = tuple(_messages(exc, prefix=("alerts", index)))
            items.append(RejectedAlert(index, _fingerprint_of(item), errors))
    payload = WebhookPayload(tuple(items))
    if payload.rejected and not payload.alerts:
        raise PayloadError([error for r in payload.rejected for error in r.errors])
    return payload


def _messages(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in (*prefix, *error["loc"])) or "(top level)"
        errors.append(f"{path}: {error['msg']}")
    return errors


def _fingerprint_of(item: object) -> str | None:
    """The rejected alert's fingerprint, only when it is a valid one (it goes into the audit)."""
    value = item.get("fingerprint") if isinstance(item, dict) else None
    return value if isinstance(value, str) and FINGERPRINT_PATTERN.match(value) else None


def valid_hint(value: str) -> bool:
    return bool(HINT_PATTERN.match(value)) and len(value) <= 128
