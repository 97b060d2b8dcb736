"""Byte-for-byte check that a refactor changed no output: write the outputs, compare folders.

A move of code from one room to another must leave every number where it was. This
script drives the real CLI (a subprocess per command, so the check sees exactly what a
user sees) with fixed seeds and fixed dates, and writes each output to a file in a
folder; a second call compares two such folders byte for byte and names each file that
differs. Make the reference folder from the untouched tree first, then re-check after
every step:

    python tools/check_outputs.py write REF_DIR --data ../shared/data    # before
    python tools/check_outputs.py write NEW_DIR --data ../shared/data    # after a step
    python tools/check_outputs.py compare REF_DIR NEW_DIR                # exit 1 on a change

A reference from any commit: ``git archive REV src | tar -x -C OLD`` and
``write REF_DIR --src OLD/src`` (its code runs through this checkout's ``barrage``).

The backtest is a short window (a few weeks, horizons 1 and 3) that still runs every
model, baseline and score; the full backtest takes about a minute on 2 cores and adds
no code path. Outputs that carry the wall clock (none of these do) would have to be
left out, not masked.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Output:
    """One CLI call, run in a scratch folder; its stdout is saved as ``name``, and each
    of ``files`` it wrote there (named relative, so no path differs between runs) beside it.
    ``{data}`` and ``{tmp}`` in ``args`` are filled in."""

    name: str
    args: tuple[str, ...]
    files: tuple[str, ...] = ()


OUTPUTS: tuple[Output, ...] = (
    Output("ingest.json", ("ingest", "{data}/attack-record", "--db", "{tmp}/store.duckdb", "--json")),
    Output(
        "backtest.json",
        (
            "backtest", "--start", "2025-06-01", "--end", "2025-06-28", "--horizon", "1",
            "--horizon", "3", "--db", "{tmp}/store.duckdb", "--weather",
            "{data}/weather/ukraine_weather_by_date.csv", "--scheduler", "sync",
            "--out", "backtest.csv", "--json",
        ),
        files=("backtest.csv",),
    ),
    Output(
        "assess.json",
        (
            "assess", "--as-of", "2025-07-01", "--db", "{tmp}/store.duckdb", "--weather",
            "{data}/weather/ukraine_weather_by_date.csv", "--json",
        ),
    ),
    Output(
        "salvo.json",
        ("simulate", "salvo", "2024-08-26_combined", "--runs", "4000", "--seed", "7",
         "--scheduler", "sync", "--json"),
    ),
    Output(
        "salvo_2025.json",
        ("simulate", "salvo", "2025-07-09_combined", "--runs", "3000", "--seed", "3",
         "--scheduler", "sync", "--json"),
    ),
    Output(
        "salvo_waves.json",
        ("simulate", "salvo", "stylised_waves", "--runs", "3000", "--seed", "3",
         "--scheduler", "sync", "--json"),
    ),
    Output(
        "strike_stylised.json",
        ("simulate", "strike", "ukraine_stylised", "--runs", "100", "--seed", "3",
         "--grid-dir", "{data}/grid/pglib-opf", "--scheduler", "sync", "--json"),
    ),
    Output(
        "strike.json",
        ("simulate", "strike", "strike_case24", "--runs", "200", "--seed", "7",
         "--grid-dir", "{data}/grid/pglib-opf", "--scheduler", "sync", "--json"),
    ),
    Output(
        "grid_replay.json",
        ("simulate", "replay", "--db", "{tmp}/store.duckdb", "--runs", "40", "--seed", "2",
         "--grid-dir", "{data}/grid/pglib-opf", "--json"),
    ),
    Output("opf.json", ("grid", "opf", "{data}/grid/pglib-opf/pglib_opf_case24_ieee_rts.m", "--json")),
    Output(
        "opf_outage.json",
        ("grid", "opf", "{data}/grid/pglib-opf/pglib_opf_case24_ieee_rts.m",
         "--outage", "substation:16", "--outage", "branch:5", "--json"),
    ),
)  # fmt: skip


def _barrage() -> str:
    """The ``barrage`` script of the interpreter running this file (the checkout's venv)."""
    return str(Path(sys.executable).with_name("barrage"))


def write(out: Path, data: Path, src: Path | None = None) -> None:
    """Run every output's command and save its stdout; stop at the first command that fails.
    With ``src`` (a ``src`` folder, e.g. from ``git archive REV src``), that code runs."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(src.resolve())) if src is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        fill = {"data": str(data.resolve()), "tmp": tmp}
        for item in OUTPUTS:
            args = [a.format(**fill) for a in item.args]
            done = subprocess.run(
                [_barrage(), *args], capture_output=True, cwd=tmp, env=env, check=False
            )
            if done.returncode != 0:
                sys.exit(f"{item.name}: barrage {' '.join(args)} exited {done.returncode}: "
                         f"{done.stderr.decode()[-400:]}")  # fmt: skip
            (out / item.name).write_bytes(done.stdout)
            for name in item.files:
                shutil.copyfile(Path(tmp) / name, out / name)
            print(f"wrote {item.name} ({len(done.stdout)} bytes)")


def compare(ref: Path, new: Path) -> int:
    """Name each file missing or different between the two folders; 0 when all are equal."""
    names = sorted({p.name for p in ref.iterdir()} | {p.name for p in new.iterdir()})
    bad = []
    for name in names:
        a, b = ref / name, new / name
        if not (a.exists() and b.exists()):
            bad.append(f"{name}: only in {'ref' if a.exists() else 'new'}")
        elif not filecmp.cmp(a, b, shallow=False):
            bad.append(f"{name}: differs")
    for line in bad:
        print(line)
    print(f"{len(names) - len(bad)} of {len(names)} files identical")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write the outputs into a folder")
    w.add_argument("out", type=Path)
    w.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    w.add_argument("--src", type=Path, help="run this src folder's code (git archive REV src)")
    c = sub.add_parser("compare", help="compare two folders byte for byte")
    c.add_argument("ref", type=Path)
    c.add_argument("new", type=Path)
    args = parser.parse_args()
    if args.cmd == "write":
        write(args.out, args.data, args.src)
        return 0
    return compare(args.ref, args.new)


if __name__ == "__main__":
    sys.exit(main())
