"""Fuzzing the two parsers that read files from strangers: the record CSV and scenarios.

Hypothesis drives them with structured-then-corrupted inputs (see tests/_fuzz.py for
the contracts). CI runs ``BARRAGE_FUZZ_EXAMPLES`` (default 60) examples per target;
``benchmarks/fuzz_long.py`` runs thousands and refreshes the corpus in
tests/fuzz_corpus/, which every run replays.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from _fuzz import (
    CORPUS,
    check_record,
    check_scenario_dict,
    check_scenario_file,
    mutated,
    record_bytes,
    yaml_bytes,
)
from barrage.errors import InputError
from barrage.grid.strike import example_strike_scenarios
from barrage.salvo import example_scenarios, load_scenario

EXAMPLES = int(os.environ.get("BARRAGE_FUZZ_EXAMPLES", "60"))
KEEP = os.environ.get("BARRAGE_FUZZ_CORPUS_OUT")  # set by benchmarks/fuzz_long.py
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SALVO_TEXT = next(iter(example_scenarios().values())).read_text("utf-8")
STRIKE_TEXT = next(iter(example_strike_scenarios().values())).read_text("utf-8")
SALVO = yaml.safe_load(SALVO_TEXT)
STRIKE = yaml.safe_load(STRIKE_TEXT)
OUTCOMES: dict[str, set[str]] = {}


def _keep(kind: str, label: str, data: bytes, suffix: str) -> None:
    """Count outcome kinds; in a long run, keep one input per new kind as corpus."""
    seen = OUTCOMES.setdefault(kind, set())
    if label in seen:
        return
    seen.add(label)
    if KEEP:
        folder = Path(KEEP) / kind
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(data).hexdigest()[:12] + suffix
        (folder / name).write_bytes(data)


@FUZZ
@given(data=record_bytes())
def test_record_parser_loses_no_row(tmp_path_factory, data):
    label = check_record(data, tmp_path_factory.mktemp("rec"))
    _keep("record", label, data, ".csv")


@FUZZ
@given(data=mutated(SALVO))
def test_salvo_scenario_dict_gives_scenario_or_clear_error(data):
    label = check_scenario_dict(data)
    _keep("scenario_dict", label, yaml.safe_dump(data).encode(), ".yaml")


@FUZZ
@given(data=mutated(STRIKE))
def test_strike_scenario_dict_gives_scenario_or_clear_error(data):
    label = check_scenario_dict(data, strike=True)
    _keep("strike_dict", label, yaml.safe_dump(data).encode(), ".yaml")


@FUZZ
@given(data=yaml_bytes(SALVO_TEXT))
def test_salvo_scenario_file_gives_scenario_or_clear_error(tmp_path_factory, data):
    label = check_scenario_file(data, tmp_path_factory.mktemp("scn"))
    _keep("scenario", label, data, ".yaml")


@FUZZ
@given(data=yaml_bytes(STRIKE_TEXT))
def test_strike_scenario_file_gives_scenario_or_clear_error(tmp_path_factory, data):
    label = check_scenario_file(data, tmp_path_factory.mktemp("stk"), strike=True)
    _keep("strike", label, data, ".yaml")


def _corpus(kind: str, suffix: str) -> list[Path]:
    files = sorted((CORPUS / kind).glob(f"*{suffix}"))
    assert files, f"fuzz corpus {CORPUS / kind} is empty"
    return files


def test_record_corpus(tmp_path):
    for path in _corpus("record", ".csv"):
        check_record(path.read_bytes(), tmp_path)


@pytest.mark.parametrize("kind", ["scenario", "scenario_dict", "strike", "strike_dict"])
def test_scenario_corpus(kind, tmp_path):
    strike = kind.startswith("strike")
    for path in _corpus(kind, ".yaml"):
        check_scenario_file(path.read_bytes(), tmp_path, strike=strike)


# --- the findings, one regression test each ----------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (b"name: \xff\xfe\n", "not UTF-8 text (byte 0xff at line 1)"),
        (b"[" * 100_000, "nested too deeply"),
        (b"!!python/object/apply:os.system ['touch /tmp/barrage-pwned']\n", "not valid YAML"),
        (
            b"a: &a [1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nsalvo: *b\n",
            "salvo: Input should be a valid dictionary",
        ),
        (
            b"name: x\nlayers: [unclosed\n",
            "not valid YAML (line 3, column 1: expected ',' or ']', but got '<stream end>')",
        ),
        (
            b"name: a\nnight_h: 8\nname: b\n",
            "not valid YAML (line 3, column 1: key 'name' given twice)",
        ),
    ],
    ids=["not-utf8", "deep-nesting", "python-tag", "alias-expansion", "unclosed", "dup-key"],
)
def test_scenario_file_errors_are_clear(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    with pytest.raises(InputError, match=re.escape(expected)) as err:
        load_scenario(path)
    assert str(path) in err.value.message and "\n" not in err.value.message
    assert not Path("/tmp/barrage-pwned").exists()


def test_oversized_scenario_file_is_refused_before_parsing(tmp_path, monkeypatch):
    import barrage.salvo.scenario as scenario

    path = tmp_path / "big.yaml"
    path.write_text(SALVO_TEXT + "#" * 2048)
    monkeypatch.setattr(scenario, "MAX_SCENARIO_BYTES", 1024)
    with pytest.raises(InputError, match=r"larger than the limit of 1,024"):
        load_scenario(path)


def test_dict_like_columns_are_stored_as_text_never_evaluated(tmp_path):
    """The ``*_details`` columns hold Python-dict-like text; nothing evaluates it."""
    import duckdb

    from _recordgen import row, write_record
    from barrage.record import ingest_record

    payload = "__import__('os').system('touch " + str(tmp_path / "pwned") + "')"
    path = write_record(
        tmp_path / "r.csv",
        [
            row(
                "2025-09-30 20:30",
                "2025-10-01 06:00",
                "Shahed-136/131",
                10,
                8,
                destroyed_details=payload,
                launched_details="{'east': NaN}",
            )
        ],
    )
    ingest_record(path, tmp_path / "r.duckdb")
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT destroyed_details FROM attacks").fetchone()[0]
    assert stored == payload
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "prefix, edit, expected",
    [
        (b"\n", None, "the first line is blank (expected the header row)"),
        (b"", (b"model", b"mo\rdel"), "missing required column(s) model"),
        (b'"', None, "header row cannot be read as CSV (unexpected end of data)"),
    ],
    ids=["blank-first-line", "cr-in-header", "open-quote-in-header"],
)
def test_record_header_errors_are_clear(tmp_path, prefix, edit, expected):
    """Found by fuzzing: these escaped as a raw StopIteration or csv.Error."""
    from _recordgen import HEADER
    from barrage.record import ingest_record

    header = ",".join(HEADER).encode()
    if edit:
        header = header.replace(*edit)
    path = tmp_path / "r.csv"
    path.write_bytes(prefix + header + b"\n2025-09-30,2025-09-30,Kalibr,,,,1,1,,,,,,,,,,,,,,s\n")
    with pytest.raises(InputError, match=re.escape(expected)):
        ingest_record(path, tmp_path / "r.duckdb")


def _ingest_error(tmp_path, data: bytes) -> str:
    from barrage.record import ingest_record

    path = tmp_path / "r.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        ingest_record(path, tmp_path / "r.duckdb")
    assert not (tmp_path / "r.duckdb").exists()
    message = err.value.message
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 1000
    return message


def test_a_header_longer_than_the_head_is_named_not_cut(tmp_path):
    """A 110 kB header was cut mid-name and reported as repeating column 'c10'."""
    header = ",".join(f"c{i}" for i in range(20_000)).encode()
    message = _ingest_error(tmp_path, header + b"\n1\n")
    assert "the header row is longer than 65,536 bytes" in message


def test_long_column_names_are_cut_in_the_message(tmp_path):
    """The 'found:' list echoed whole names: a 64 kB header made a 64 kB error line."""
    header = ",".join(["time_start", *("x" * 5000 + str(i) for i in range(10))]).encode()
    message = _ingest_error(tmp_path, header + b"\n1\n")
    assert "missing required column(s) time_end" in message and "x" * 40 + "..." in message


def test_an_oversized_record_is_refused_before_reading(tmp_path, monkeypatch, record_csv):
    import barrage.record.ingest as ingest

    monkeypatch.setattr(ingest, "MAX_RECORD_BYTES", 1024)
    message = _ingest_error(tmp_path, Path(record_csv).read_bytes())
    assert "bytes is larger than the limit of 1,024; nothing was changed" in message
