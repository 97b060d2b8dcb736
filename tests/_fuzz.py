"""Fuzz harness shared by tests/test_hardening_fuzz.py and benchmarks/fuzz_long.py.

Two targets, each with the contract it must keep on *any* input:

- the record parser (:func:`barrage.record.ingest_record`): either a clean
  :class:`~barrage.errors.InputError` (unusable file: not UTF-8, no header, ...) or a
  report whose ``rows_read`` equals rows stored + rows quarantined, in the report and in
  the store, with no row lost or stored twice on a re-ingest;
- the scenario loaders (:func:`barrage.salvo.load_scenario`,
  :func:`barrage.grid.strike.load_strike_scenario` and the dict forms the API uses):
  a scenario or an InputError, never another exception.

``check_*`` return a short label of the outcome ("ok", or the error's first words) so
the long run can keep one input per distinct outcome as the corpus.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import duckdb
from hypothesis import strategies as st

from _recordgen import HEADER
from barrage.errors import InputError

CORPUS = Path(__file__).with_name("fuzz_corpus")

# --- the record ------------------------------------------------------------------------

_NASTY = [
    "",
    " ",
    '"',
    '""',
    ",",
    "\n",
    "\r\n",
    "\r",
    "\x00",
    "\ufeff",
    "NaN",
    "inf",
    "-1",
    "1e308",
    "1e309",
    "0x10",
    "  2025-09-30 20:30  ",
    "2025-09-30",
    "2025-09-30 20:30",
    "9999-12-31 23:59",
    "Shahed-136/131",
    "X-101/X-555 and Kalibr",
    "{'east': NaN, 'north': 1.0}",
    "__import__('os').system('touch /tmp/barrage-pwned')",
    "'; DROP TABLE attacks; --",
    "PvKPivden/posts/x",
    "kpszsu/posts/x",
    "Ж" * 3,
]
field_values = st.one_of(st.sampled_from(_NASTY), st.text(max_size=12))


@st.composite
def record_bytes(draw) -> bytes:
    """A record file: a (possibly shuffled, extended or cut) header, rows written by a
    CSV writer, then optionally a few raw byte mutations of the result."""
    header = list(HEADER)
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if draw(st.integers(0, 4)) == 0:
        header = header + [draw(st.sampled_from(["extra", "note", "Unnamed: 0"]))]
    n_rows = draw(st.integers(0, 12))
    rows = [[draw(field_values) for _ in header] for _ in range(n_rows)]
    out = io.StringIO()
    csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([header, *rows])
    data = out.getvalue().encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    for _ in range(draw(st.integers(0, 3))):  # raw corruption
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        byte = bytes([draw(st.sampled_from([0x22, 0x2C, 0x0A, 0x0D, 0x00, 0xFF, 0x41]))])
        if op == "flip":
            data = data[:at] + byte + data[at + 1 :]
        elif op == "insert":
            data = data[:at] + byte + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + 1 :]
        else:
            data = data[: max(at, len(data) // 2)]
    return data


def well_formed_rows(data: bytes) -> int | None:
    """Data rows in ``data`` if it is a clean CSV (as Python's csv reads it), else None."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    if not rows or any(len(r) != len(rows[0]) for r in rows) or "\x00" in text or "\r" in text:
        return None
    return len(rows) - 1


def check_record(data: bytes, tmp: Path) -> str:
    """Ingest ``data`` twice into a fresh store and check that nothing was lost."""
    from barrage.record import ingest_record

    path = tmp / "fuzz.csv"
    path.write_bytes(data)
    db = tmp / "fuzz.duckdb"
    db.unlink(missing_ok=True)
    try:
        report = ingest_record(path, db)
    except InputError as exc:
        assert str(path) in exc.message or "fuzz.csv" in exc.message, exc.message
        return "error: " + _label(exc.message.replace(str(path), "FILE"))
    stored_by_report = report.rows_added + report.rows_updated + report.rows_unchanged
    assert report.rows_read == stored_by_report + report.rows_quarantined, report
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM attacks").fetchone()[0]
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        bad = con.execute(
            "SELECT count(*) FROM attacks WHERE launched < 0 OR destroyed > launched "
            "OR time_end < time_start OR night IS NULL OR model IS NULL"
        ).fetchone()[0]
    assert stored == report.rows_added, (stored, report)
    assert stored + quarantined == report.rows_read, (stored, quarantined, report)
    assert bad == 0
    expected = well_formed_rows(data)
    if expected is not None:
        assert report.rows_read == expected, (report.rows_read, expected)
    again = ingest_record(path, db)
    assert (again.rows_added, again.rows_updated) == (0, 0), again
    assert again.rows_read == report.rows_read
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM attacks").fetchone()[0] == stored
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == quarantined
    return "ok: " + ",".join(sorted(report.quarantine_reasons)) if report.rows_read else "ok: empty"


def _label(message: str) -> str:
    """The kind of an error message: its words up to the first quote, digits dropped."""
    text = re.split(r"['\"(]", message, maxsplit=1)[0]
    return re.sub(r"\d+", "N", text).strip()[:80]


# --- scenarios -------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from(["shahed", "kh101", "all", "uav", "cruise", "salvo", "gun", "x" * 300]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _replace(obj, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in obj.items()}
    return [(_replace(v, rest, value) if i == head else v) for i, v in enumerate(obj)]


def _delete(obj, path):
    if not path:
        return obj
    head, rest = path[0], path[1:]
    if not rest:
        if isinstance(obj, dict):
            return {k: v for k, v in obj.items() if k != head}
        return [v for i, v in enumerate(obj) if i != head]
    if isinstance(obj, dict):
        return {k: (_delete(v, rest) if k == head else v) for k, v in obj.items()}
    return [(_delete(v, rest) if i == head else v) for i, v in enumerate(obj)]


@st.composite
def mutated(draw, base):
    """``base`` (a valid scenario mapping) with 1-3 subtrees replaced or deleted."""
    data = base
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        if path and draw(st.integers(0, 3)) == 0:
            data = _delete(data, path)
        else:
            data = _replace(data, path, draw(json_values))
    return data


def check_scenario_dict(data, *, strike: bool = False) -> str:
    """Validate a mapping as the API does; only a scenario or an InputError may come out."""
    from barrage.grid.strike import strike_from_dict
    from barrage.salvo import scenario_from_dict

    try:
        if strike:
            strike_from_dict(data, source="fuzz")
        else:
            scenario_from_dict(data, source="fuzz")
    except InputError as exc:
        assert exc.message.startswith("fuzz"), exc.message
        return "error: " + _label(exc.message)
    return "ok"


def check_scenario_file(data: bytes, tmp: Path, *, strike: bool = False) -> str:
    from barrage.grid.strike import load_strike_scenario
    from barrage.salvo import load_scenario

    path = tmp / "fuzz.yaml"
    path.write_bytes(data)
    try:
        (load_strike_scenario if strike else load_scenario)(path)
    except InputError as exc:
        assert str(path) in exc.message, exc.message
        return "error: " + _label(exc.message.replace(str(path), "FILE"))
    return "ok"


@st.composite
def yaml_bytes(draw, base_text: str) -> bytes:
    """A scenario file's text with a few random byte edits (YAML structure characters)."""
    data = base_text.encode("utf-8")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        piece = draw(
            st.sampled_from(
                [
                    b":",
                    b"-",
                    b" ",
                    b"\n",
                    b"[",
                    b"{",
                    b"&a",
                    b"*a",
                    b"!!python/name:os.system",
                    b"\t",
                    b"\xff",
                    b"'",
                    b'"',
                    b"1e999",
                    b"~",
                    b"<<: ",
                ]
            )
        )
        if draw(st.booleans()):
            data = data[:at] + piece + data[at:]
        else:
            data = data[:at] + data[at + len(piece) :]
    return data


# --- memory caps ------------------------------------------------------------------------


def _vm_bytes() -> int:
    """This process's virtual memory now (Linux /proc), the base of an address-space cap."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


class memory_cap:
    """Cap this process's address space at its size now plus ``extra_mb`` for the block
    (``resource.setrlimit(RLIMIT_AS)``): an input that blows up memory raises
    MemoryError in the test instead of taking the machine. The old limit comes back after.
    """

    def __init__(self, extra_mb: float) -> None:
        self.extra_b = int(extra_mb * 2**20)

    def __enter__(self) -> memory_cap:
        import resource

        self.old = resource.getrlimit(resource.RLIMIT_AS)
        cap = _vm_bytes() + self.extra_b
        hard = self.old[1]
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
        return self

    def __exit__(self, *exc) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, self.old)


# --- MATPOWER ---------------------------------------------------------------------------


@st.composite
def matpower_text(draw, base: str) -> str:
    """A MATPOWER case with a few hostile edits: unclosed or repeated matrices, brackets,
    huge or odd numbers, long lines, deleted spans."""
    text = base
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        piece = draw(
            st.sampled_from(
                [
                    "mpc.a = [",
                    "mpc.bus = [\n",
                    "];",
                    "]",
                    "[",
                    ";",
                    "%",
                    "\n",
                    "1e999",
                    "nan",
                    "-0",
                    "mpc.baseMVA = 1e308;",
                    "mpc.x = {'a', 'b'};",
                    "mpc.a = [\n" * 2000,
                    "1 " * 5000,
                    "\x00",
                ]
            )
        )
        if draw(st.integers(0, 4)) == 0:
            text = text[:at] + text[at + draw(st.integers(1, 400)) :]
        else:
            text = text[:at] + piece + text[at:]
    return text


def check_matpower(text: str) -> str:
    """Parse and build a network: a Network or an InputError, never another exception."""
    from barrage.grid.network import from_arrays, parse_matpower

    try:
        case = parse_matpower(text, source="fuzz.m")
        from_arrays(
            name="fuzz",
            base_mva=case["baseMVA"],
            bus=case["bus"],
            gen=case["gen"],
            branch=case["branch"],
            gencost=case.get("gencost"),
            source="fuzz.m",
        )
    except InputError as exc:
        assert exc.message.startswith("fuzz.m"), exc.message
        return "error: " + _label(exc.message)
    return "ok"
