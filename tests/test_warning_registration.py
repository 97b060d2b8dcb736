"""The registration document and its code constant name the same choices."""

from __future__ import annotations

from barrage.warning.registration import REGISTRATION


def test_the_registration_document_names_the_constants_primaries():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "warning-registration.md").read_text()
    for target, model in REGISTRATION.primaries.items():
        assert f"| `{target}` | `{model}` |" in doc
    names = {
        "attack_drone": "attack drones",
        "missiles": "all missiles",
        "cruise_missile": "cruise missiles",
        "ballistic_missile": "ballistic missiles",
    }
    for group, model in REGISTRATION.launch_primaries.items():
        assert f"| {names[group]} | `{model}` |" in doc
    assert "2024-09-30" in doc and "0.30" in doc and "0.80" in doc


def test_the_v31_amendment_changes_only_the_launch_choices():
    from dataclasses import fields

    from barrage.warning.registration import REGISTRATION_V3

    assert (REGISTRATION_V3.version, REGISTRATION.version) == ("v3", "v3.1")
    launch = {"version", "launch_candidates", "launch_primaries"}
    for f in fields(REGISTRATION):
        if f.name not in launch:
            assert getattr(REGISTRATION, f.name) == getattr(REGISTRATION_V3, f.name), f.name
    # the third version's launch choices stay as registered (history)
    assert REGISTRATION_V3.launch_primaries["attack_drone"] == "recent_quantiles"
    assert REGISTRATION_V3.launch_primaries["ballistic_missile"] == "window_negbin_90"
    assert set(REGISTRATION_V3.launch_candidates) < set(REGISTRATION.launch_candidates)
