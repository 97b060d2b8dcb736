"""The shared file helpers: bounded reads with one-line errors, and output paths checked
before the work without leaving anything behind."""

from __future__ import annotations

import pytest

from barrage.errors import InputError
from barrage.files import check_output_file, decode_utf8, read_bounded


def test_a_file_is_read_whole_up_to_its_limit(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 10)
    assert read_bounded(path, 10, "test file") == b"x" * 10
    with pytest.raises(InputError, match=r"test file of 10 bytes is larger than the limit of 9$"):
        read_bounded(path, 9, "test file")


@pytest.mark.parametrize(
    "make, why",
    [(lambda p: None, "not found"), (lambda p: p.mkdir(), "not a regular file")],
    ids=["missing", "folder"],
)
def test_what_cannot_be_read_is_named(tmp_path, make, why):
    path = tmp_path / "thing"
    make(path)
    with pytest.raises(InputError, match=rf"thing: cannot read test file \({why}\)$"):
        read_bounded(path, 100, "test file")


def test_a_bad_byte_is_named_with_its_line(tmp_path):
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 0xff at line 2\)$"):
        decode_utf8(tmp_path / "f", b"ok\n\xff")
    assert decode_utf8(tmp_path / "f", b"\xef\xbb\xbfa") == "a"  # a byte-order mark dropped
    assert decode_utf8(tmp_path / "f", b"\xef\xbb\xbfa", bom=False) == "\ufeffa"


def test_an_output_path_is_checked_without_making_anything(tmp_path):
    target = tmp_path / "new" / "deeper" / "report.html"
    assert check_output_file(target, param="out") == target
    assert not (tmp_path / "new").exists()  # made when the file is written, not before
    with pytest.raises(InputError, match=r"^out: .* is a folder; expected the path of a file"):
        check_output_file(tmp_path, param="out")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(InputError, match=r"^out: .*a-file is a file; expected a folder to write"):
        check_output_file(blocker / "sub" / "x.csv", param="out")
