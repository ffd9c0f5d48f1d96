"""Base pieces of the configuration models, shared by every collector's own config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must never silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectorSettings(StrictModel):
    """What every collector accepts."""

    enabled: bool = True
    deadline_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="The scrape waits this long for the collector, then reports `timeout`.",
    )
