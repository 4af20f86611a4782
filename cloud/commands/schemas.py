"""Request and response models of the edge-command API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class CommandIn(BaseModel):
    """A command for one edge; the hub adds ``bundle_id``, ``site``, ``edge``, ``created_ns`` and ``expires_ns``."""

    cmd: Literal["config", "deploy", "snapshot"]
    config: dict[str, Any] | None = Field(None, description="config: keys the agent understands")
    asset: str | None = Field(None, description="deploy, snapshot: the asset")
    pipeline: dict[str, Any] | None = Field(None, description="deploy: the declared pipeline")
    channel: str | None = Field(None, description="snapshot: one channel (default: all)")
    duration_s: float | None = Field(None, gt=0, le=60, description="snapshot: seconds of raw waveform")


class CommandSent(BaseModel):
    """What was published, where."""

    bundle_id: str
    topic: str
    key_id: str
    expires_ns: int
