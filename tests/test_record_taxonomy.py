"""The weapon taxonomy: every model string of the record resolves, combined rows keep
their group count, unknown strings are reported."""

from __future__ import annotations

import csv

from hypothesis import given, settings
from hypothesis import strategies as st

from barrage.record.taxonomy import MISSILE_CLASSES, WEAPON_CLASSES, classify_model


def test_every_model_in_the_snapshot_is_known(record_csv):
    with record_csv.open(encoding="utf-8") as f:
        models = {row["model"] for row in csv.DictReader(f)}
    unknown = sorted(m for m in models if not classify_model(m).known)
    assert unknown == []


def test_reference_categories_agree_with_classes(shared_data):
    """The dataset's own categories are the starting point: UAV → a drone class,
    cruise/ballistic → a missile class, guided bomb → guided_bomb."""
    expected = {
        "UAV": {"attack_drone", "tactical_drone", "recon_drone"},
        "cruise missile": set(MISSILE_CLASSES),
        "ballistic missile": set(MISSILE_CLASSES),
        "guided bomb": {"guided_bomb"},
        "surface-to-air missile": {"ballistic_missile"},
        "surface-to-air and ballistic": {"ballistic_missile"},
    }
    path = shared_data / "attack-record" / "missiles_and_uavs.csv"
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kind = classify_model(row["model"])
            assert kind.known, row["model"]
            assert kind.weapon_class in expected[row["category"]], (row["model"], kind)


def test_examples_from_the_issue():
    assert classify_model("Shahed-136/131").family == "shahed"
    assert classify_model("X-101/X-555").family == "kh101"
    assert classify_model("Iskander-M/KN-23").family == "iskander_m_or_kn23"
    assert classify_model("Unknown UAV").weapon_class == "attack_drone"
    assert classify_model("X-47 Kinzhal").weapon_class == "ballistic_missile"
    assert classify_model("C-400").weapon_class == "ballistic_missile"


def test_combined_rows_get_a_combined_family_and_shared_or_mixed_class():
    both_cruise = classify_model("X-101/X-555 and Kalibr")
    assert (both_cruise.family, both_cruise.weapon_class) == ("kh101+kalibr", "cruise_missile")
    mixed = classify_model("X-101/X-555 and Kalibr and Iskander-M/KN-23")
    assert mixed.weapon_class == "mixed_missile"
    assert classify_model("C-400 and Iskander-M").weapon_class == "ballistic_missile"
    assert classify_model("Shahed-136/131 and Lancet").weapon_class == "attack_drone"


def test_unknown_strings_are_class_unknown():
    kind = classify_model("Geran-5 jet")
    assert (kind.weapon_class, kind.known) == ("unknown", False)
    assert classify_model("Kalibr and Geran-5 jet").weapon_class == "unknown"


def test_whitespace_is_normalised():
    assert classify_model("  X-101/X-555   and  Kalibr ").family == "kh101+kalibr"


@settings(deadline=None)  # no per-example wall-clock limit: a busy machine is expected
@given(st.text(max_size=60))
def test_classify_never_raises_and_returns_a_declared_class(model):
    kind = classify_model(model)
    assert kind.weapon_class in WEAPON_CLASSES
    assert kind.known == (kind.weapon_class != "unknown")


def test_docs_show_the_current_schema_and_taxonomy():
    from pathlib import Path

    from barrage.record.schema import schema_markdown
    from barrage.record.taxonomy import taxonomy_table

    doc = (Path(__file__).resolve().parents[1] / "docs" / "record.md").read_text(encoding="utf-8")
    assert schema_markdown() in doc
    for model, (family, weapon_class) in taxonomy_table().items():
        assert f"| `{model}` | `{family}` | {weapon_class} |" in doc
