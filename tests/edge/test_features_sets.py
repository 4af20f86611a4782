"""Named feature sets: names agree with computed keys, names parse back, context errors are named."""

import numpy as np
import pytest

from edge_agent.bearings import SKF_6205
from edge_agent.features import FEATURE_SETS, FeatureContext, parse_feature_name
from edge_agent.features.envelope import ENVELOPE_FEATURES, envelope_indicators
from edge_agent.features.sets import CombinedSet
from edge_agent.features.spectral import spectral_features
from edge_agent.features.thermal import ThermalTracker
from edge_agent.features.time_domain import TIME_FEATURES, time_features
from simulators.motor_current import InductionMotor

FS = 25600.0
VIB = FeatureContext(fs=FS, rpm=1797.0, bearing=SKF_6205, bands=((0, 1000), (1000, 3000), (3000, 12800)))
MOTOR = FeatureContext(fs=5000.0, supply_hz=50.0, rpm=1455.0, pole_pairs=2)


@pytest.fixture
def x():
    return np.random.default_rng(5).normal(size=4096)


def data_for(fset):
    if fset.inputs == "vibration":
        return np.random.default_rng(5).normal(size=4096), VIB
    if fset.inputs == "current":
        return InductionMotor("m", fs=5000.0).next_block(25000), MOTOR
    tr = ThermalTracker()
    for k in range(10):
        tr.update(k * 10**9, 40.0 + 0.1 * k, 1.0, 20.0)
    return tr, FeatureContext(fs=1.0)


def test_registry_holds_the_required_sets():
    required = {"time", "spectral", "envelope", "bearing", "vibration_full", "motor_current", "thermal"}
    assert required <= set(FEATURE_SETS)
    for name, fset in FEATURE_SETS.items():
        assert fset.name == name
        assert fset.inputs in ("vibration", "current", "thermal")


@pytest.mark.parametrize("name", sorted(FEATURE_SETS))
def test_names_match_computed_keys_and_values_are_finite(name):
    fset = FEATURE_SETS[name]
    data, ctx = data_for(fset)
    out = fset.compute(data, ctx)
    assert tuple(out) == fset.names(ctx)
    assert all(isinstance(v, float) and np.isfinite(v) for v in out.values())


def test_combined_sets_are_their_parts(x):
    full = FEATURE_SETS["vibration_full"].compute(x, VIB)
    expected = time_features(x)
    expected |= spectral_features(x, FS, bands=VIB.bands, shaft_hz=VIB.rpm / 60)
    expected |= envelope_indicators(x, FS, VIB.rpm / 60, SKF_6205)
    assert full == pytest.approx(expected, rel=1e-12)
    bearing = FEATURE_SETS["bearing"].compute(x, VIB)
    assert tuple(bearing) == TIME_FEATURES + tuple(ENVELOPE_FEATURES)


def test_feature_names_parse_back_to_their_parameters():
    names = FEATURE_SETS["vibration_full"].names(VIB) + FEATURE_SETS["motor_current"].names(MOTOR)
    assert parse_feature_name("band_energy_1000_3000") == ("band_energy", {"lo_hz": 1000.0, "hi_hz": 3000.0})
    assert ("order", {"order": 3}) in [parse_feature_name(n) for n in names]
    assert ("thd", {"first": 2, "last": 40}) in [parse_feature_name(n) for n in names]
    bands = [tuple(p.values()) for k, p in map(parse_feature_name, names) if k == "band_energy"]
    assert bands == [tuple(map(float, b)) for b in VIB.bands]
    ctx = FeatureContext(fs=FS, bands=((0, 1562.5),))
    assert parse_feature_name(FEATURE_SETS["spectral"].names(ctx)[0])[1] == {"lo_hz": 0.0, "hi_hz": 1562.5}


def test_missing_context_fields_are_named(x):
    with pytest.raises(ValueError, match=r"set 'envelope' needs FeatureContext field\(s\) \['rpm', 'bearing'\]"):
        FEATURE_SETS["bearing"].compute(x, FeatureContext(fs=FS))
    with pytest.raises(ValueError, match=r"'motor_current' needs FeatureContext field\(s\) \['supply_hz'\]"):
        FEATURE_SETS["motor_current"].names(FeatureContext(fs=5000.0))
    # without rpm the spectral set simply has no order amplitudes
    assert not any(n.startswith("order_") for n in FEATURE_SETS["spectral"].names(FeatureContext(fs=FS)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"fs": 0.0}, "fs must be a finite number > 0, got 0.0"),
        ({"fs": FS, "rpm": -3.0}, "rpm must be a finite number > 0"),
        ({"fs": FS, "slip_tolerance": 0.9}, r"slip_tolerance must lie in \[0, 0.5\)"),
        ({"fs": FS, "bands": ((0, 20000),)}, r"bands\[0\] must satisfy 0 <= low < high <= fs/2 = 12800.0"),
    ],
)
def test_context_rejects_bad_fields(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeatureContext(**kwargs)


def test_sets_validate_their_input():
    with pytest.raises(ValueError, match="x must be 1-D"):
        FEATURE_SETS["vibration_full"].compute(np.zeros((3, 4096)), VIB)
    with pytest.raises(ValueError, match=r"currents must have shape \(3, n\)"):
        FEATURE_SETS["motor_current"].compute(np.zeros(4096), MOTOR)
    with pytest.raises(ValueError, match="mixes inputs"):
        CombinedSet("odd", (FEATURE_SETS["time"], FEATURE_SETS["motor_current"]))


def test_context_is_frozen_and_hashable():
    with pytest.raises(AttributeError):
        VIB.fs = 1.0  # type: ignore[misc]
    assert hash(VIB) == hash(FeatureContext(fs=FS, rpm=1797.0, bearing=SKF_6205,
                                            bands=((0, 1000), (1000, 3000), (3000, 12800))))
