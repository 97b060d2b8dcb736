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
