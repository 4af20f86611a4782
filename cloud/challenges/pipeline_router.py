"""Routes the learner page's deploy form is built from: the pipeline registries and a dry-run validation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from cloud.access import Anyone, Principal, Role, RoleGate
from cloud.challenges import pipeline_forms

router = APIRouter(prefix="/api", tags=["sessions"])
Deployers = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.mentor, Role.learner))]


class StepParam(BaseModel):
    """A parameter of a registry entry, with its default."""

    name: str
    default: Any = None
    required: bool


class StepView(BaseModel):
    """A scaler, detector, threshold policy or drift detector by registry name."""

    name: str
    params: list[StepParam]


class FeatureSetView(BaseModel):
    """A feature set: what its windows are cut from and the features it computes."""

    inputs: str
    features: list[str]


class FieldView(BaseModel):
    """A numeric or boolean pipeline field: its bounds, default and meaning."""

    type: str
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    note: str


class PipelineRegistry(BaseModel):
    """Everything the deploy form offers."""

    feature_sets: dict[str, FeatureSetView]
    scalers: list[StepView]
    detectors: list[StepView]
    thresholds: list[StepView]
    drift_detectors: list[StepView]
    fields: dict[str, FieldView]


class PipelineIn(BaseModel):
    """A declared pipeline to check (JSON, as deployed)."""

    model_config = ConfigDict(extra="forbid")
    pipeline: dict[str, Any] = Field(description="edge_agent.pipeline.PipelineConfig fields")


class FieldError(BaseModel):
    """A problem, beside the field it concerns."""

    field: str
    message: str


class PipelineCheck(BaseModel):
    """The dry-run validation of a pipeline: its content hash when valid, else every problem."""

    ok: bool
    hash: str | None
    errors: list[FieldError]


@router.get("/pipelines/registry", response_model=PipelineRegistry,
            summary="Feature sets, scalers, detectors, thresholds, drift detectors and field bounds of pipelines")
def pipeline_registry(who: Anyone) -> dict:
    return pipeline_forms.registry()


@router.post("/pipelines/validate", response_model=PipelineCheck,
             summary="Check a pipeline as a deploy would (nothing is signed or sent); problems name the field")
def validate_pipeline(who: Deployers, body: PipelineIn) -> dict:
    return pipeline_forms.validate(body.pipeline)
