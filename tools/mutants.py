"""Mutation testing on a fixed list: does the suite notice when core code is wrong?

Each mutant is one textual change to one line of ``src/barrage`` (found by its exact
text, which must occur once) and the test files that should catch it. The script copies
``src``, ``tests`` and ``pyproject.toml`` to a temporary folder, runs each mutant's
tests there unmutated (the baseline: they must pass), then with the mutant applied, and
reports each mutant as killed (a test failed), survived, timeout (counted as killed) or
stale (its text is no longer in the source: update the list). The working tree is never
modified. Only the named test files run, so the whole list takes minutes, not the suite.

A mutant listed with ``equivalent`` changes no result the code can produce; it is run
all the same and is expected to survive (if it is killed, it was not equivalent).

    python tools/mutants.py                 # every mutant; exit 1 if one survives
    python tools/mutants.py --only salvo    # mutants whose name contains "salvo"
    python tools/mutants.py --markdown      # the result table for docs/testing.md

The per-run timeout is derived from the work: ten times the baseline run of the same
tests, plus a minute (a mutant that loops forever is reported as a timeout).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One change: replace ``find`` (exactly one occurrence) in ``path`` by ``replace``."""

    name: str
    path: str  # relative to src/barrage
    find: str
    replace: str
    tests: tuple[str, ...]  # test files (or node ids) relative to the repo
    why: str  # what the mutant breaks
    equivalent: str | None = None  # the reason it changes nothing, if it is equivalent


AS_OF_TESTS = ("tests/test_record_as_of.py", "tests/test_indicators_features.py")
ENGINE_TESTS = ("tests/test_salvo_engine.py",)
RESTORATION_TESTS = ("tests/test_grid_restoration.py", "tests/test_grid_strike.py")

MUTANTS: tuple[Mutant, ...] = (
    # --- the four that survived the audit (issue #23) ---
    Mutant(
        "record.as_of_13h",
        "record/nights.py",
        "CAST({t} AS DATE) + INTERVAL 12 HOUR",
        "CAST({t} AS DATE) + INTERVAL 13 HOUR",
        AS_OF_TESTS,
        "as-of cut at 13:00 instead of 12:00",
    ),
    Mutant(
        "record.as_of_13h_cli",
        "record/nights.py",
        "CAST({t} AS DATE) + INTERVAL 12 HOUR",
        "CAST({t} AS DATE) + INTERVAL 13 HOUR",
        ("tests/test_warning_cli.py::test_no_look_ahead_against_a_store_of_only_known_rows",),
        "the same, seen through assess --json against a store cut at noon",
    ),
    Mutant(
        "salvo.stock_lt",
        "salvo/engine.py",
        "np.cumsum(shots, axis=1, dtype=np.int32) <= layer.stock",
        "np.cumsum(shots, axis=1, dtype=np.int32) < layer.stock",
        ENGINE_TESTS,
        "a layer fires one interceptor fewer than its stock",
    ),
    Mutant(
        "grid.priority_inverted",
        "grid/restoration.py",
        "priority = (gain + 1e-3 * capacity_mw[None, :] + 1e-6) / np.maximum(work, 1e-3)",
        "priority = np.maximum(work, 1e-3) / (gain + 1e-3 * capacity_mw[None, :] + 1e-6)",
        RESTORATION_TESTS,
        "crews repair the least load per crew-day first",
    ),
    Mutant(
        "salvo.loo_in_sample",
        "salvo/validation.py",
        'priors = _priors(history[history["night"] != night], period, classes)',
        "priors = _priors(history, period, classes)",
        ("tests/test_salvo_calibration.py",),
        "the checked night is left in its own calibration",
    ),
    # --- record ---
    Mutant(
        "record.as_of_le_noon",
        "record/nights.py",
        "WHEN {t} < CAST({t} AS DATE)",
        "WHEN {t} <= CAST({t} AS DATE)",
        AS_OF_TESTS,
        "a row closing at exactly 12:00 counts the same day",
    ),
    Mutant(
        "record.date_only_end_at_midnight",
        "record/ingest.py",
        "THEN p.time_end_ts + INTERVAL 86399 SECOND",
        "THEN p.time_end_ts + INTERVAL 0 SECOND",
        AS_OF_TESTS,
        "a date-only end is read as 00:00 (known that morning)",
    ),
    Mutant(
        "record.night_from_06h",
        "record/ingest.py",
        "CAST(k.time_start_ts - INTERVAL 12 HOUR AS DATE) AS night",
        "CAST(k.time_start_ts - INTERVAL 6 HOUR AS DATE) AS night",
        ("tests/test_record_as_of.py", "tests/test_record_ingest.py"),
        "a window starting 06:00-11:59 is put on the same day's night",
    ),
    Mutant(
        "record.destroyed_equal_launched_quarantined",
        "record/ingest.py",
        "WHEN v__destroyed > v__launched + ",
        "WHEN v__destroyed >= v__launched + ",
        ("tests/test_record_ingest.py",),
        "rows with every weapon destroyed are quarantined",
    ),
    Mutant(
        "record.massive_gt",
        "record/nights.py",
        "HAVING sum(launched) >= ?",
        "HAVING sum(launched) > ?",
        ("tests/test_record_as_of.py",),
        "a night of exactly 30 missiles is not massive",
    ),
    # --- salvo ---
    Mutant(
        "salvo.stock_guard_ge",
        "salvo/engine.py",
        "over = np.flatnonzero(total > layer.stock)",
        "over = np.flatnonzero(total >= layer.stock)",
        ENGINE_TESTS,
        "runs that use exactly their stock also go through the cut",
        equivalent=(
            "a run with total == stock passes the cut unchanged (cumulative shots never "
            "exceed the stock): the guard only saves work"
        ),
    ),
    Mutant(
        "salvo.one_shot_counted",
        "salvo/engine.py",
        "total = n_e + sum(_count(x) for x in extra) if extra else n_e * k",
        "total = n_e + sum(_count(x) for x in extra) if extra else n_e",
        ENGINE_TESTS,
        "a two-shot salvo books one interceptor per target",
    ),
    Mutant(
        "salvo.pooled_prior_dropped",
        "salvo/calibration.py",
        "alpha, beta = a0 + destroyed, b0 + engaged - destroyed",
        "alpha, beta = destroyed, b0 + engaged - destroyed",
        ("tests/test_salvo_calibration.py",),
        "the Beta(1, 1) prior is lost from the pooled posterior",
    ),
    # --- grid ---
    Mutant(
        "grid.one_spare_too_many",
        "grid/restoration.py",
        "return eligible & (rank < k)",
        "return eligible & (rank <= k)",
        RESTORATION_TESTS,
        "one destroyed unit more gets a spare (or a mobile substation) than there are",
    ),
    Mutant(
        "grid.ready_a_day_late",
        "grid/restoration.py",
        "ready = active & (wait <= day)",
        "ready = active & (wait < day)",
        RESTORATION_TESTS,
        "repairs start a day after the parts are there",
    ),
    Mutant(
        "grid.intact_shed_not_subtracted",
        "grid/restoration.py",
        "shed[sl] = np.clip(s.reshape(r, -1) - base_shed[None, :], 0.0, None)",
        "shed[sl] = np.clip(s.reshape(r, -1), 0.0, None)",
        RESTORATION_TESTS,
        "shed the intact network has anyway at winter demand is blamed on the strike",
    ),
    Mutant(
        "grid.substation_keeps_far_branches",
        "grid/opf.py",
        "branch_out |= bus_out[f] | bus_out[t]",
        "branch_out |= bus_out[f]",
        ("tests/test_grid_opf.py", "tests/test_grid_restoration.py"),
        "a lost substation leaves the branches ending at it in service",
    ),
    # --- warning ---
    Mutant(
        "warning.level_strict",
        "warning/assess.py",
        "if p_level_horizon >= threshold:",
        "if p_level_horizon > threshold:",
        ("tests/test_warning_rules.py",),
        "a probability exactly at a level's threshold gets the level below",
    ),
    Mutant(
        "warning.brier_absolute",
        "warning/scores.py",
        "return float(np.mean((p - y) ** 2))",
        "return float(np.mean(np.abs(p - y)))",
        ("tests/test_warning_rules.py", "tests/test_warning_models.py"),
        "the Brier score becomes the mean absolute error",
    ),
    Mutant(
        "warning.log_score_positive_only",
        "warning/scores.py",
        "y * np.log(p) + (1 - y) * np.log(1 - p)",
        "y * np.log(p)",
        ("tests/test_warning_rules.py", "tests/test_warning_models.py"),
        "the log score ignores the days without an event",
    ),
    # --- stockpile ---
    Mutant(
        "stockpile.statement_on_the_day",
        "stockpile/model.py",
        "pd.Timestamp(s.stated_on) < as_of_ts",
        "pd.Timestamp(s.stated_on) <= as_of_ts",
        ("tests/test_stockpile_as_of.py",),
        "a statement made on the as-of date is used (look-ahead within the day)",
    ),
    Mutant(
        "stockpile.launches_added",
        "stockpile/model.py",
        "stock = s0 + cum_p - cum_l",
        "stock = s0 + cum_p + cum_l",
        ("tests/test_stockpile_model.py",),
        "launches add to the stock instead of drawing it down",
    ),
)


def copy_tree(dest: Path) -> None:
    """The parts of the repo the tests need, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for part in ("src", "tests"):
        shutil.copytree(REPO / part, dest / part, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")


def test_env(dest: Path) -> dict[str, str]:
    """The copy's package first on the path, no bytecode (a mutant of the same size
    and second would otherwise reuse a stale .pyc), the shared data where it is."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(dest / "src"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    shared = env.get("BARRAGE_SHARED_DATA") or str(REPO.parent / "shared" / "data")
    env["BARRAGE_SHARED_DATA"] = str(Path(shared).resolve())
    return env


def run_tests(dest: Path, tests: tuple[str, ...], env: dict, timeout_s: float | None):
    """(pytest exit code or None on timeout, seconds). The run is its own process group,
    so a timeout also ends the servers and workers the tests started."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=dest,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    except BaseException:  # interrupted: leave no test run behind
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if code is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return code, time.perf_counter() - start


def check_isolated(dest: Path, env: dict) -> None:
    """Refuse to run if ``import barrage`` would not load the copy."""
    out = subprocess.run(
        [sys.executable, "-c", "import barrage; print(barrage.__file__)"],
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(dest.resolve()):
        raise SystemExit(f"mutants: barrage imports from {out}, not from the copy {dest}")


def outcome(mutant: Mutant, code: int | None) -> str:
    if code is None:
        return "killed (timeout)"
    if code == 1:
        return "killed"
    if code == 0:
        return "survived"
    return f"error (pytest exit {code})"


def run_all(mutants: list[Mutant], dest: Path, log=print) -> list[dict]:
    env = test_env(dest)
    check_isolated(dest, env)
    baseline: dict[tuple[str, ...], float] = {}
    for tests in dict.fromkeys(m.tests for m in mutants):
        code, secs = run_tests(dest, tests, env, None)
        if code != 0:
            raise SystemExit(f"mutants: baseline fails (pytest exit {code}): {' '.join(tests)}")
        baseline[tests] = secs
        log(f"baseline {secs:6.1f} s  {' '.join(tests)}", flush=True)
    rows = []
    for m in mutants:
        path = dest / "src" / "barrage" / m.path
        text = path.read_text(encoding="utf-8")
        found = text.count(m.find)
        if found != 1:
            rows.append({"mutant": m, "status": f"stale ({found} matches)", "seconds": 0.0})
            log(f"{rows[-1]['status']:>18}  {m.name}", flush=True)
            continue
        path.write_text(text.replace(m.find, m.replace), encoding="utf-8")
        try:
            code, secs = run_tests(dest, m.tests, env, 10 * baseline[m.tests] + 60)
        finally:
            path.write_text(text, encoding="utf-8")
        rows.append({"mutant": m, "status": outcome(m, code), "seconds": secs})
        log(f"{rows[-1]['status']:>18}  {m.name}  ({secs:.1f} s)", flush=True)
    return rows


def acceptable(row: dict) -> bool:
    """Killed, or an equivalent mutant that survived."""
    if row["mutant"].equivalent:
        return row["status"] == "survived"
    return row["status"].startswith("killed")


def markdown(rows: list[dict]) -> str:
    lines = [
        "| mutant | where | change breaks | tests run | result |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["mutant"]
        status = r["status"]
        if m.equivalent:
            status += f" (equivalent: {m.equivalent})"
        tests = ", ".join(Path(t).name for t in m.tests)
        lines.append(f"| `{m.name}` | `{m.path}` | {m.why} | {tests} | {status} |")
    return "\n".join(lines)


def _stop_on_term(signum, frame):
    raise KeyboardInterrupt  # so that the temporary copy and the test run are cleaned up


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_term)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run the mutants whose name contains this")
    ap.add_argument("--markdown", action="store_true", help="print the result as a table")
    ap.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only in m.name]
    if not chosen:
        ap.error(f"--only {args.only!r}: no mutant name contains it")
    if args.list:
        for m in chosen:
            print(f"{m.name:45} {m.path:24} {m.why}")
        return 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="barrage-mutants-") as tmp:
        dest = Path(tmp)
        copy_tree(dest)
        rows = run_all(chosen, dest)
    bad = [r for r in rows if not acceptable(r)]
    killed = sum(r["status"].startswith("killed") for r in rows)
    print(
        f"{len(rows)} mutants: {killed} killed, {len(rows) - killed} not killed "
        f"({sum(bool(r['mutant'].equivalent) for r in rows)} listed equivalent); "
        f"{len(bad)} unacceptable; {time.perf_counter() - start:.0f} s"
    )
    if args.markdown:
        print(markdown(rows))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
