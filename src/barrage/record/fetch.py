"""Fetch the newest public record, verify it, and say what it would change.

Sources, in order: the ``kaggle`` client when it is installed and has credentials
(``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME``/``KAGGLE_KEY``), else a plain HTTP(S)
download from ``url`` (default ``$BARRAGE_RECORD_URL``, else Kaggle's public download
endpoint, which serves a zip). A download is accepted only when it is complete (its
length matches ``Content-Length``), is a zip holding the record or the CSV itself, has
the required columns and does not end in a broken row; otherwise nothing is written.
"""

from __future__ import annotations

import io
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from barrage.errors import BarrageError, InputError

# MAX_RECORD_BYTES also bounds a record unpacked from a zip: the download cap bounds the
# compressed size only, and a zip bomb unpacks 1,000-fold.
from barrage.record.ingest import MAX_RECORD_BYTES, _read_and_check, file_sha256, ingest_record
from barrage.record.locate import RECORD_FILENAME
from barrage.record.scratch import scratch_dir, scratch_folder

DEFAULT_URL = (
    "https://www.kaggle.com/api/v1/datasets/download/piterfm/massive-missile-attacks-on-ukraine"
)
KAGGLE_DATASET = "piterfm/massive-missile-attacks-on-ukraine"
#: Exit code for "could not download" (offline, refused, unauthorised).
EXIT_FETCH_FAILED = 4
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
URL_SCHEMES = ("http", "https", "file")


class FetchError(BarrageError):
    """The record could not be downloaded (network, authorisation, incomplete)."""

    exit_code = EXIT_FETCH_FAILED


@dataclass
class FetchReport:
    """What a fetch brought: where it is and what ingesting it would change."""

    path: str
    source: str
    sha256: str
    bytes: int
    rows_read: int
    rows_new: int
    rows_corrected: int
    rows_unchanged: int
    rows_quarantined: int
    new_nights: list[str] = field(default_factory=list)
    unchanged_file: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def redact_url(url: str) -> str:
    """``url`` safe to print or log: a password in it and query values are masked
    (a signed or credentialed download URL must not end up in logs or JSON output)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}:***@{host}" if user else host
        query = parts.query
        if query:
            masked = [(k, "***") for k, _ in parse_qsl(query, keep_blank_values=True)]
            query = urlencode(masked, safe="*") if masked else "***"
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparseable URL>"


def check_url(url: str) -> str:
    """``url`` if it is one fetch can use, else an InputError naming it (redacted)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in URL_SCHEMES
        or not (parts.netloc or parts.scheme.lower() == "file")
    ):
        raise InputError(
            f"url: {redact_url(url)!r} is not a download URL "
            f"(expected {', '.join(s + '://...' for s in URL_SCHEMES)})"
        )
    return url


def _http_get(url: str, timeout_s: float) -> bytes:
    shown = redact_url(url)
    request = urllib.request.Request(url, headers={"User-Agent": "barrage-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            expected = response.headers.get("Content-Length")
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as exc:
        hint = " (unauthorised: set Kaggle credentials or --url)" if exc.code in (401, 403) else ""
        raise FetchError(f"download from {shown} refused: HTTP {exc.code}{hint}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot reach {shown} ({reason}); offline? nothing was changed") from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise FetchError(
            f"download from {shown} is larger than {MAX_DOWNLOAD_BYTES} bytes; refused"
        )
    if expected is not None and expected.isdigit() and int(expected) != len(data):
        raise FetchError(
            f"download from {shown} is incomplete: {len(data)} of {expected} bytes; nothing was changed"
        )
    return data


def _kaggle_download(dest: Path) -> Path | None:
    """Use the kaggle client when it is installed and configured, else None."""
    has_creds = (Path.home() / ".kaggle" / "kaggle.json").exists() or (
        os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")
    )
    if not has_creds:
        return None
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi  # type: ignore[import-not-found]
    except ImportError:
        return None
    api = KaggleApi()
    try:
        api.authenticate()
        api.dataset_download_file(KAGGLE_DATASET, RECORD_FILENAME, path=str(dest), quiet=True)
    except Exception as exc:  # noqa: BLE001 - the client raises many types
        raise FetchError(f"kaggle download failed: {exc}") from None
    for candidate in (dest / RECORD_FILENAME, dest / f"{RECORD_FILENAME}.zip"):
        if candidate.exists():
            return candidate
    return None


def _extract_csv(data: bytes, origin: str) -> bytes:
    """The record CSV from a zip (Kaggle serves one) or the bytes themselves."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == RECORD_FILENAME]
                if not names:
                    raise FetchError(f"{origin}: the zip holds no {RECORD_FILENAME}")
                size = zf.getinfo(names[0]).file_size
                if size > MAX_RECORD_BYTES:
                    raise FetchError(
                        f"{origin}: {names[0]} unpacks to {size:,} bytes, more than the "
                        f"limit of {MAX_RECORD_BYTES:,}; refused, nothing was changed"
                    )
                with zf.open(names[0]) as member:  # stops at the declared size
                    return member.read(MAX_RECORD_BYTES + 1)
        except (zipfile.BadZipFile, EOFError):
            raise FetchError(f"{origin}: broken zip (incomplete download?)") from None
    return data


def _check_complete(path: Path, data: bytes) -> None:
    """Refuse a truncated CSV: a complete export ends in a newline, and its last row has
    as many fields as the header, with balanced quotes."""
    import csv

    text = data.decode("utf-8", errors="replace").rstrip("\r\n")
    lines = text.splitlines()
    if len(lines) < 2:
        raise FetchError(f"{path}: the download holds no rows")
    header = next(csv.reader([lines[0]]))
    last = next(csv.reader([lines[-1]]), [])
    if not data.endswith(b"\n") or len(last) != len(header) or text.count('"') % 2:
        raise FetchError(
            f"{path}: the last row has {len(last)} of {len(header)} fields: truncated download, "
            "nothing was changed"
        )


def _check_folder(to: Path) -> None:
    """``to`` is (or can become) the folder of the record, checked before downloading: a
    file there was a FileExistsError traceback after the download."""
    if to.exists() and not to.is_dir():
        raise InputError(f"to: {to} is a file; expected the folder to write {RECORD_FILENAME} into")
    if (to / RECORD_FILENAME).is_dir():
        raise InputError(
            f"to: {to / RECORD_FILENAME} is a folder; expected the record file or nothing"
        )


def fetch_record(
    to: str | os.PathLike[str] = "data",
    *,
    db: str | os.PathLike[str] | None = None,
    url: str | None = None,
    timeout_s: float = 60.0,
    use_kaggle: bool = True,
) -> FetchReport:
    """Download the newest record into ``to``/missile_attacks_daily.csv, verified.

    The file in ``to`` is replaced only after the download is complete and parses; with
    ``db``, the report says what ingesting it would change (a dry-run ingest).
    """
    to = Path(to)
    _check_folder(to)
    url = check_url(url or os.environ.get("BARRAGE_RECORD_URL") or DEFAULT_URL)
    # scratch beside the store (or the record): swept if a killed fetch leaves it
    with scratch_dir(scratch_folder(db if db is not None else to / RECORD_FILENAME)) as tmp_dir:
        got = _kaggle_download(tmp_dir) if use_kaggle else None
        if got is not None:
            data, source = got.read_bytes(), f"kaggle:{KAGGLE_DATASET}"
        else:
            data, source = _http_get(url, timeout_s), redact_url(url)
        csv_bytes = _extract_csv(data, source)
        staged = tmp_dir / RECORD_FILENAME
        staged.write_bytes(csv_bytes)
        try:
            _read_and_check(staged)
        except InputError as exc:
            raise FetchError(f"download from {source} is not a usable record: {exc}") from None
        _check_complete(staged, csv_bytes)
        sha = file_sha256(csv_bytes)
        dest = to / RECORD_FILENAME
        unchanged = dest.exists() and file_sha256(dest.read_bytes()) == sha
        if db is not None and Path(db).exists():
            # Dry-run on a copy: even a rolled-back transaction rewrites file blocks.
            copy = tmp_dir / "store.duckdb"
            shutil.copyfile(db, copy)
            wal = Path(f"{db}.wal")
            if wal.exists():
                shutil.copyfile(wal, f"{copy}.wal")
            would = ingest_record(staged, copy, dry_run=True)
        else:
            would = ingest_record(staged, ":memory:", dry_run=True)
        to.mkdir(parents=True, exist_ok=True)
        if not unchanged:
            partial = dest.with_suffix(".csv.part")
            shutil.copyfile(staged, partial)
            os.replace(partial, dest)  # atomic on one filesystem
    return FetchReport(
        path=str(dest),
        source=source,
        sha256=sha,
        bytes=len(csv_bytes),
        rows_read=would.rows_read,
        rows_new=would.rows_added,
        rows_corrected=would.rows_updated,
        rows_unchanged=would.rows_unchanged,
        rows_quarantined=would.rows_quarantined,
        new_nights=would.new_nights,
        unchanged_file=unchanged,
    )
