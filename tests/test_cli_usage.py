"""One CLI: the same argument means the same thing in every command, every error is one
line naming the flag, dates are ISO only, and ``--version`` answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from barrage import __version__
from barrage.cli import app
from barrage.errors import InputError
from barrage.indicators import to_day

runner = CliRunner()


def _one_line_error(res, starts: str) -> str:
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(starts), lines[0]
    assert "╭" not in res.stderr and "Traceback" not in res.stderr
    return lines[0]


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"barrage {__version__}"


@pytest.mark.parametrize(
    "args, starts, words",
    [
        (["simulate", "salvo", "x.yaml", "--runs", "abc"], "error: --runs: ", "integer"),
        (["serve", "--port", "0"], "error: --port: ", "greater than or equal to 1"),
        (["assess", "--bogus"], "error: No such option: --bogus", "barrage assess --help"),
        (["ingest"], "error: Missing argument", "barrage ingest --help"),
        (["nosuch"], "error: No such command", "barrage --help"),
    ],
)
def test_usage_errors_are_one_line_naming_the_flag(args, starts, words):
    line = _one_line_error(runner.invoke(app, args), starts)
    assert words in line


def test_no_arguments_still_shows_help():
    res = runner.invoke(app, ["simulate"])
    assert "salvo" in res.output and "strike" in res.output


@pytest.mark.parametrize("value", ["01/06/2025", "6 Jan 2025", "2025/06/01", "20250601x"])
def test_dates_are_iso_only(value):
    with pytest.raises(InputError, match=r"^as_of: expected a date YYYY-MM-DD \(ISO only\)"):
        to_day(value)
    assert to_day("2025-06-01") == to_day("2025-06-01T12:00")


def test_ambiguous_as_of_is_refused_with_the_flag(record_db):
    """01/06/2025 was read as 6 January; now every command refuses it alike."""
    for cmd in (["assess"], ["stockpile"], ["backtest", "--start"]):
        flag = cmd[1] if len(cmd) > 1 else "--as-of"
        args = [cmd[0], "--db", str(record_db), flag, "01/06/2025"]
        line = _one_line_error(runner.invoke(app, args), f"error: {flag}: expected ")
        assert "'01/06/2025'" in line


def test_salvo_check_dates_are_iso_only(record_db):
    args = ["simulate", "salvo-check", "--db", str(record_db), "--cut", "01/06/2024"]
    line = _one_line_error(runner.invoke(app, args), "error: --cut: expected a date")
    assert "'01/06/2024'" in line


def test_library_parameter_names_become_flags():
    """A library error naming ``as_of`` reaches the user as ``--as-of``, in any command."""
    from barrage.cli._common import flag_message

    class Ctx:
        class command:  # noqa: N801 - a stand-in for the click command
            params = [type("P", (), {"name": "as_of", "opts": ["--as-of"]})()]

    Ctx.command.params[0].param_type_name = "option"
    assert flag_message("as_of: too late", Ctx) == "--as-of: too late"
    assert flag_message("store x: missing", Ctx) == "store x: missing"


def test_bundled_salvo_scenario_by_name():
    res = runner.invoke(
        app,
        [
            "simulate",
            "salvo",
            "2025-07-09_combined",
            "--runs",
            "64",
            "--json",
            "--scheduler",
            "sync",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["runs"] == 64


@pytest.mark.parametrize("command", [["simulate", "salvo"], ["simulate", "strike"]])
def test_unknown_scenario_lists_the_shipped_ones(command):
    line = _one_line_error(runner.invoke(app, [*command, "nope"]), "error: nope: ")
    assert "cannot read scenario file" in line and "shipped example" in line


def test_ingest_takes_the_folder_like_run(record_csv, tmp_path):
    db = tmp_path / "f.duckdb"
    res = runner.invoke(app, ["ingest", str(record_csv.parent), "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rows_added"] == 2946
    empty = tmp_path / "empty"
    empty.mkdir()
    line = _one_line_error(
        runner.invoke(app, ["ingest", str(empty), "--db", str(db)]), "error: no attack record"
    )
    assert "(from PATH)" in line


def test_assess_logs_with_log_not_record():
    """``--record`` takes a record path (``run``); appending to the forecast log is
    ``assess --log``."""
    names = {p.name: p.opts for p in _command("assess").params}
    assert names["log"] == ["--log"] and "record" not in names


def _command(name: str):
    import typer.main

    return typer.main.get_command(app).commands[name]


# --- the small things (finding 9) -------------------------------------------------------


def test_scorecard_on_an_empty_log_says_so(record_db):
    res = runner.invoke(app, ["scorecard", "--db", str(record_db)])
    assert res.exit_code == 0, res.output
    assert "None" not in res.stdout
    assert "empty" in res.stdout and "barrage update" in res.stdout


def test_serve_on_a_busy_port_fails_before_saying_serving(record_db):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = runner.invoke(app, ["serve", "--port", str(port), "--db", str(record_db)])
    line = _one_line_error(res, "error: --port: ")
    assert str(port) in line and "serving" not in res.stderr


@pytest.mark.parametrize("kind", ["text", "folder"])
def test_serve_refuses_a_db_that_is_not_a_store(tmp_path, monkeypatch, kind):
    """A text file or a folder as --db was served, every answer an error."""
    import uvicorn

    def served(*args, **kwargs):
        raise AssertionError("the server started")

    monkeypatch.setattr(uvicorn, "run", served)
    db = tmp_path / "s.duckdb"
    db.mkdir() if kind == "folder" else db.write_text("not a store\n")
    from _webserver import free_port

    res = runner.invoke(app, ["serve", "--port", str(free_port()), "--db", str(db)])
    _one_line_error(res, f"error: --db: cannot open store {db}: ")
    assert "serving" not in res.stderr


def test_grid_output_names_its_currency_and_explains_overloads(shared_data):
    case24 = str(shared_data / "grid" / "pglib-opf" / "pglib_opf_case24_ieee_rts.m")
    opf = runner.invoke(app, ["grid", "opf", case24])
    assert opf.exit_code == 0, opf.output
    assert "USD/h" in opf.stdout
    flow = runner.invoke(app, ["grid", "flow", case24])
    assert flow.exit_code == 0, flow.output
    said = " ".join(flow.stdout.split())
    assert "above the thermal rating" in said
    if "rating): none" not in said:
        assert "set points" in said  # why the intact network shows overloads


def test_live_track_headers_align_with_their_numbers(monkeypatch):
    from barrage.web import dashboard, queries
    from barrage.web.models import Scorecard

    sc = Scorecard(
        log_entries=1,
        model_versions=["v"],
        current_model_version="v",
        last_known_day="2025-10-01",
        threshold=0.35,
        drift_rule="rule",
        drift=False,
        rows=[{"target": "t", "horizon_days": 7, "closed": 1, "forecasts": 1, "drift": None}],
    )
    monkeypatch.setattr(queries, "scorecard", lambda con: sc)
    page = dashboard.scorecard_panel(None)
    header = page[page.index("<tr>") : page.index("</tr>")]
    row = page[page.index("</tr><tr>") :]
    th = header.count("class='num'")
    assert th == row.count("class='num'") == 7


def test_docs_name_no_machine_paths():
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"(?<![\w.])/(work|tmp|root|home)/")
    found = [
        f"{p.name}:{n}"
        for p in [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, found


# --- Dask from the CLI (finding 10) ------------------------------------------------------


def test_auto_runs_small_salvos_here_and_local_warns(monkeypatch):
    """Below the measured pay-off a local cluster loses to this process: ``auto`` stays
    here, an explicit ``local`` still runs but says so, on one line."""
    from barrage import compute
    from barrage.compute.salvo import CLI_LOCAL_MIN_ENGAGEMENTS, engagements
    from barrage.pipeline import simulate as pipeline_simulate
    from barrage.salvo import example_scenarios, load_scenario

    scn = load_scenario(example_scenarios()["2025-07-09_combined"])
    # measured with 2 cores free: 0.98x at 131,072 runs, 1.28x at 262,144
    assert engagements(scn, 131_072) < CLI_LOCAL_MIN_ENGAGEMENTS <= engagements(scn, 262_144)
    seen = []
    real = compute.summarise_salvo

    def spy(*args, **kwargs):
        seen.append(kwargs["scheduler"])
        return real(*args, **{**kwargs, "scheduler": "sync"})

    monkeypatch.setattr(pipeline_simulate, "summarise_salvo", spy)
    base = ["simulate", "salvo", "2025-07-09_combined", "--runs", "1024", "--json"]
    auto = runner.invoke(app, [*base, "--scheduler", "auto"])
    assert auto.exit_code == 0, auto.output
    assert seen == ["sync"] and "warning" not in auto.stderr
    local = runner.invoke(app, [*base, "--scheduler", "local"])
    assert local.exit_code == 0, local.output
    assert seen[-1] == "local"
    said = local.stderr.strip()
    assert said.startswith("warning: --scheduler local: 1,024 runs") and "\n" not in said
    assert "--scheduler sync is likely faster" in said
    assert json.loads(local.stdout) == json.loads(auto.stdout)


@pytest.mark.parametrize("command", [["summary"], ["stockpile"]])
def test_tables_keep_their_words_whole_in_80_columns(record_db, command):
    """The tables a newcomer reads first wrap in an 80-column terminal; none cuts a class,
    family or header short with an ellipsis."""
    res = runner.invoke(app, [*command, "--db", str(record_db)], terminal_width=80)
    assert res.exit_code == 0, res.output
    assert "┃" in res.stdout and "…" not in res.stdout


@pytest.mark.parametrize(
    "args, flag",
    [
        (["simulate", "campaign", "winter_stylised", "--runs", "2", "--html"], "--html"),
        (["backtest", "--db", "{db}", "--out"], "--out"),
        (["report", "--db", "{db}", "--out"], "--out"),
        (["replay", "--db", "{db}", "--from", "2025-09-01", "--out"], "--out"),
    ],
    ids=["campaign-html", "backtest-out", "report-out", "replay-out"],
)
def test_an_output_path_is_checked_before_the_work(record_db, tmp_path, args, flag):
    """A folder as --out/--html was an IsADirectoryError traceback after the whole run."""
    args = [a.replace("{db}", str(record_db)) for a in args]
    res = runner.invoke(app, [*args, str(tmp_path)])
    line = _one_line_error(res, f"error: {flag}: ")
    assert line.endswith("is a folder; expected the path of a file to write")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = runner.invoke(app, [*args, str(blocker / "x.out")])
    assert _one_line_error(res, f"error: {flag}: ").endswith(
        "is a file; expected a folder to write x.out in"
    )


def test_fetch_and_update_check_the_record_folder_before_downloading(tmp_path, record_csv):
    """A file as --to was a FileExistsError traceback after the download (fetch, exit 1)
    or 'update failed unexpectedly' (update, exit 1); update's --wait was named wait_s."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    url = Path(record_csv).as_uri()
    for command in (["fetch"], ["update", "--db", str(tmp_path / "u.duckdb")]):
        res = runner.invoke(app, [*command, "--to", str(blocker), "--url", url])
        assert res.exit_code == 2, res.output
        assert res.stderr.splitlines()[-1] == (
            f"error: --to: {blocker} is a file; expected the folder to write "
            "missile_attacks_daily.csv into"
        )
    (tmp_path / "t" / "missile_attacks_daily.csv").mkdir(parents=True)
    res = runner.invoke(app, ["fetch", "--to", str(tmp_path / "t"), "--url", url])
    _one_line_error(res, "error: --to: ")
    res = runner.invoke(
        app,
        [
            "update",
            "--db",
            str(tmp_path / "u.duckdb"),
            "--to",
            str(tmp_path / "d"),
            "--url",
            url,
            "--wait",
            "-1",
        ],  # fmt: skip
    )
    assert res.exit_code == 2
    assert (
        res.stderr.splitlines()[-1] == "error: --wait: expected a number of seconds >= 0, got -1.0"
    )
