"""Web and file-input hardening, second round (issue 22, defects 6, 7 and 10): each test
fails on the code before the fix."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from _webserver import free_port
from barrage.errors import InputError
from barrage.grid.network import parse_matpower, read_network
from barrage.grid.strike import example_strike_scenarios
from barrage.record.fetch import FetchError, check_url, fetch_record
from barrage.salvo import load_scenario
from barrage.web import Settings, create_app
from barrage.web.errors import public_message
from barrage.web.limits import header_timeout_protocol, shown


@pytest.fixture()
def client(store):
    with TestClient(create_app(Settings(db=store, warm=False))) as c:
        yield c


def test_a_foreign_host_header_is_refused(client):
    """No Host allow-list: a rebinding page (evil.example -> 127.0.0.1) was served."""
    r = client.get("/health", headers={"host": "evil.example:8000"})
    assert r.status_code == 400 and "BARRAGE_ALLOWED_HOSTS" in r.json()["detail"]
    assert client.get("/health", headers={"host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/health", headers={"host": "[::1]:8000"}).status_code == 200
    r = client.get("/health", headers={"host": "x\x1b[31m" + "y" * 70_000})
    assert r.status_code == 400 and len(r.text) < 300 and "\x1b" not in r.text


def test_shown_escapes_and_cuts():
    out = shown("a\x1b[2Jb" * 100, limit=10)
    assert "\x1b" not in out and out.endswith("...") and len(out) < 40


@pytest.mark.parametrize("case", ["pandapower:__class__", "pandapower:os", "pandapower:warnings"])
def test_only_bundled_pandapower_cases_are_built(case):
    """A user string was looked up in pandapower.networks and called."""
    with pytest.raises(InputError, match="pandapower has no bundled network named"):
        read_network(case)


def test_error_bodies_carry_no_server_paths(client, tmp_path):
    """A strike spec naming a missing network answered with the server's folders."""
    r = client.get("/api/scenarios")
    strike = next(s for s in r.json() if s["kind"] == "strike")
    spec = yaml.safe_load(example_strike_scenarios()[strike["name"]].read_text("utf-8"))
    spec["grid"]["network"] = "no_such_case.m"
    r = client.post("/api/jobs/strike", json={"scenario_spec": spec, "runs": 8})
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert "no_such_case.m" in detail
    assert str(tmp_path) not in detail and os.getcwd() not in detail
    assert public_message("cannot open /srv/data/store/x.duckdb now") == (
        "cannot open x.duckdb now"
    )


def test_openapi_declares_the_bearer_scheme(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_job_list_masks_ids_and_the_full_id_cancels(store):
    """GET /api/jobs listed every job id, and any id cancelled."""
    with TestClient(create_app(Settings(db=store, warm=False, max_queue=4))) as c:
        job = c.post("/api/jobs/salvo", json={"runs": 50_000}).json()
        listed = c.get("/api/jobs").json()
        assert [j["id"] for j in listed] == [job["id"][:6] + "..."]
        assert c.delete(f"/api/jobs/{listed[0]['id']}").status_code in (404, 422)
        assert c.delete(f"/api/jobs/{job['id']}").status_code in (200, 409)


def test_strike_jobs_find_the_networks_beside_the_store(record_db, tmp_path, monkeypatch):
    """The bundled strike scenario failed unless the server started beside ../shared."""
    from barrage.grid.strike import DEFAULT_GRID_DIR

    real = (Path(__file__).resolve().parents[1] / DEFAULT_GRID_DIR).resolve()
    (tmp_path / "shared" / "data" / "grid").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "grid" / "pglib-opf").symlink_to(real)
    (tmp_path / "store").mkdir()
    db = tmp_path / "store" / "s.duckdb"
    shutil.copy(record_db, db)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("BARRAGE_GRID_DIR", raising=False)
    with TestClient(create_app(Settings(db=db, warm=False))) as c:
        r = c.post("/api/jobs/strike", json={"runs": 8})
        assert r.status_code == 202, r.text
        c.delete(f"/api/jobs/{r.json()['id']}")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_scenario_paths_that_are_not_files_are_refused(tmp_path, kind):
    """`/dev/zero` passed the size check (st_size 0) and read for ever; a FIFO hung."""
    if kind == "fifo":
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        load_scenario(path)


def _case_text() -> str:
    from barrage.grid.strike import DEFAULT_GRID_DIR

    root = Path(__file__).resolve().parents[1]
    return (root / DEFAULT_GRID_DIR / "pglib_opf_case24_ieee_rts.m").read_text("utf-8")


def test_matpower_parse_is_linear_in_the_text():
    """40,000 `mpc.a = [` lines took `grid opf` 111 s (a quadratic rescan); now the
    hostile text parses as fast as valid text of the same length, within 20x."""
    good = _case_text()
    hostile = good + "\nmpc.a = [\n" * 40_000
    filler = good + ("%" + " " * 8 + "\n") * 40_000  # same length, comments only
    t0 = time.perf_counter()
    parse_matpower(filler)
    reference_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    case = parse_matpower(hostile)
    hostile_s = time.perf_counter() - t0
    assert case["bus"].shape == (24, 13)
    assert hostile_s < 20 * reference_s + 0.5, (hostile_s, reference_s)


@pytest.mark.parametrize("url", ["not a url", "ftp://host/x.csv", "http://", "javascript:x"])
def test_fetch_refuses_what_is_not_a_download_url(url, tmp_path):
    """`fetch --url 'not a url'` was a ValueError traceback."""
    with pytest.raises(InputError, match=r"^url: .* is not a download URL"):
        check_url(url)
    with pytest.raises(InputError):
        fetch_record(tmp_path, url=url, use_kaggle=False)


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path, monkeypatch):
    """The 512 MB cap bounded the compressed download only."""
    import io
    import zipfile

    import barrage.record.fetch as fetch_module

    monkeypatch.setattr(fetch_module, "MAX_RECORD_BYTES", 1_000_000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("missile_attacks_daily.csv", b"0" * 5_000_000)
    bomb = tmp_path / "record.zip"
    bomb.write_bytes(buf.getvalue())
    assert bomb.stat().st_size < 50_000
    with pytest.raises(FetchError, match=r"unpacks to 5,000,000 bytes, more than the limit"):
        fetch_record(tmp_path / "out", url=bomb.as_uri(), use_kaggle=False)


def _serve(app, header_timeout_s: float):
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_keep_alive=60,
        http=header_timeout_protocol(header_timeout_s),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    return server, thread, port


def _response(sock: socket.socket) -> bytes:
    """One whole HTTP response from ``sock`` (headers, then Content-Length bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


def test_slow_headers_are_cut_off_and_idle_keep_alive_is_not(store):
    """Connections sending headers a byte at a time stayed open past 100 s."""
    server, thread, port = _serve(create_app(Settings(db=store, warm=False)), 1.0)
    try:
        slow = socket.create_connection(("127.0.0.1", port))
        slow.settimeout(30)  # far above the 1 s header deadline
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never end
        assert slow.recv(1024) == b""  # closed by the server
        idle = socket.create_connection(("127.0.0.1", port))
        idle.settimeout(30)
        request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        idle.sendall(request)
        assert _response(idle).startswith(b"HTTP/1.1 200")
        time.sleep(2.5)  # idle past the header deadline, inside the keep-alive
        idle.sendall(request)
        assert _response(idle).startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
