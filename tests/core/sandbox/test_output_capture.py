"""Bounded output capture, as pure functions."""

from __future__ import annotations

from cligym.sandbox.output_capture import HeadTailBuffer, PidMarkerFilter


def test_small_output_is_kept_whole() -> None:
    buffer = HeadTailBuffer(100)
    buffer.write(b"hello ")
    buffer.write(b"world")
    assert (buffer.text(), buffer.cut_bytes) == ("hello world", 0)


def test_large_output_keeps_head_and_tail_and_counts_the_cut() -> None:
    buffer = HeadTailBuffer(10)
    for chunk in (b"ABCDE", b"0123456789" * 10, b"VWXYZ"):
        buffer.write(chunk)
    assert buffer.total_bytes == 110
    assert buffer.cut_bytes == 100
    assert buffer.text() == "ABCDE\n[... 100 bytes of output cut ...]\nVWXYZ"


def test_invalid_utf8_is_replaced_not_raised() -> None:
    buffer = HeadTailBuffer(100)
    buffer.write(b"ok \xff\xfe")
    assert buffer.text().startswith("ok ")


def test_pid_marker_is_stripped_even_when_split_across_frames() -> None:
    sink = HeadTailBuffer(100)
    marker = PidMarkerFilter(sink)
    for piece in (b"\x1ecligym-p", b"id:4", b"2\x1eerror: x\n"):
        marker.write(piece)
    assert marker.pid == 42
    assert sink.text() == "error: x\n"


def test_stderr_without_marker_passes_through_untouched() -> None:
    sink = HeadTailBuffer(100)
    marker = PidMarkerFilter(sink)
    marker.write(b"exec failed: no such file\n")
    marker.close()
    assert marker.pid is None
    assert sink.text() == "exec failed: no such file\n"
