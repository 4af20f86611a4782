"""The explanation an alert may carry: what is wrong, how sure, and the evidence.

Optional in the ``alert`` payload (:class:`contract.payloads.AlertMsg`),
strictly validated and bounded in every list and string, so a hub can
store and a page can draw it without trusting the edge. One owner: the
edge builds it with :mod:`edge_agent.diagnosis.explain`, the hub validates
it with these models.

- ``kind`` says which analysis produced it: ``bearing`` (envelope
  spectrum of the alerting windows), ``motor_current`` ((1 ± 2s)·f
  sidebands), ``thermal`` (residual against the first-order model) or
  ``features`` (only which features moved).
- ``fault`` is a short machine name (``outer_race``, ``inner_race``,
  ``ball``, ``none``, ``unknown``, ``broken_rotor_bar``, ``overheating``…).

Examples
--------
>>> e = Explanation.model_validate({"kind": "bearing", "fault": "outer_race", "confidence": 0.97,
...     "summary": "BPFO family", "lines": [{"label": "1×bpfo", "expected_hz": 107.4,
...     "measured_hz": 107.7, "prominence": 120.0, "evidence": 30.0}]})
>>> e.fault, e.lines[0].measured_hz
('outer_race', 107.7)
>>> Explanation.model_validate({"kind": "bearing", "fault": "outer race", "confidence": 2})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 2 validation errors for Explanation
...
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
#: Most points of the envelope spectrum an alert carries.
MAX_SPECTRUM_POINTS = 512
Short = Field(min_length=1, max_length=64)
FaultName = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


class EvidenceLine(BaseModel):
    """One line looked for: where it should be, where the peak was, how far it stands out."""

    model_config = _STRICT
    label: str = Field(min_length=1, max_length=32)
    expected_hz: float = Field(ge=0, le=1e6)
    measured_hz: float = Field(ge=0, le=1e6)
    prominence: float = Field(ge=0, le=1e9, description="peak over the median of its neighbourhood")
    evidence: float = Field(ge=0, le=1000, description="−log10 of the chance that noise makes such a peak")


class MovedFeature(BaseModel):
    """A feature that moved away from what the detector learnt as normal."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=128)
    value: float
    z: float = Field(description="signed deviation in learnt standard deviations")


class Severity(BaseModel):
    """ISO 20816-3 vibration severity of the alerting windows."""

    model_config = _STRICT
    velocity_rms_mm_s: float = Field(ge=0, le=1e5)
    zone: Literal["A", "B", "C", "D"]
    group: Literal[1, 2]
    foundation: Literal["rigid", "flexible"]
    assumed: bool = Field(False, description="group and foundation not configured: group 2, rigid assumed")


class Mark(BaseModel):
    """A frequency marked on the spectrum (a defect line or one of its harmonics)."""

    model_config = _STRICT
    label: str = Field(min_length=1, max_length=32)
    hz: float = Field(ge=0, le=1e6)


class Spectrum(BaseModel):
    """Compact envelope spectrum of the alerting windows: ``values[k]`` at ``f0_hz + k·df_hz``."""

    model_config = _STRICT
    f0_hz: float = Field(ge=0, le=1e6)
    df_hz: float = Field(gt=0, le=1e5)
    values: list[float] = Field(min_length=2, max_length=MAX_SPECTRUM_POINTS)
    band_hz: tuple[float, float] | None = None
    marks: list[Mark] = Field(default_factory=list, max_length=32)


class Explanation(BaseModel):
    """Why an alert was raised and what is probably wrong."""

    model_config = _STRICT
    kind: Literal["bearing", "motor_current", "thermal", "features"]
    fault: str = FaultName
    confidence: float = Field(ge=0, le=1)
    summary: str = Field("", max_length=500)
    defect_hz: float | None = Field(None, ge=0, le=1e6)
    measured_hz: float | None = Field(None, ge=0, le=1e6)
    prominence: float | None = Field(None, ge=0, le=1e9)
    harmonics_found: int | None = Field(None, ge=0, le=16)
    lines: list[EvidenceLine] = Field(default_factory=list, max_length=16)
    moved: list[MovedFeature] = Field(default_factory=list, max_length=8)
    severity: Severity | None = None
    spectrum: Spectrum | None = None
    residual_k: float | None = Field(None, ge=-1e4, le=1e4, description="thermal: measured − modelled, K")

    @model_validator(mode="after")
    def _band_ordered(self) -> "Explanation":
        band = self.spectrum.band_hz if self.spectrum else None
        if band is not None and not 0 <= band[0] < band[1]:
            raise ValueError(f"spectrum.band_hz must be (low, high) with 0 <= low < high, got {band}")
        return self
