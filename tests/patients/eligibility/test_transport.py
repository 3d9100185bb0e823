import pytest

from patients.eligibility.transport import EligibilityTransport, FileDropTransport, TransportError

from .conftest import sample


def test_file_drop_round_trip(tmp_path):
    t = FileDropTransport(tmp_path / "out", tmp_path / "in")
    assert isinstance(t, EligibilityTransport)
    t.send("ISA*...~", trace="TRACE0001")
    assert (tmp_path / "out" / "TRACE0001.270").read_text() == "ISA*...~"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["TRACE0001.270"]  # no temp file left
    assert t.poll("TRACE0001") is None
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "TRACE0001.271").write_text(sample("271_active.x12"))
    assert t.poll("TRACE0001") == sample("271_active.x12")
    assert not (tmp_path / "in" / "TRACE0001.271").exists()
    assert (tmp_path / "in" / "processed" / "TRACE0001.271").exists()
    assert t.poll("TRACE0001") is None  # picked up once


def test_send_refuses_duplicates_and_unsafe_traces(tmp_path):
    t = FileDropTransport(tmp_path / "out", tmp_path / "in")
    t.send("x", trace="A1")
    with pytest.raises(TransportError, match="already"):
        t.send("y", trace="A1")
    for bad in ("../evil", "a/b", "", ".hidden", "x" * 51):
        with pytest.raises(TransportError):
            t.send("x", trace=bad)
        with pytest.raises(TransportError):
            t.poll(bad)


def test_failed_write_leaves_nothing(tmp_path):
    t = FileDropTransport(tmp_path / "out", tmp_path / "in")
    with pytest.raises(UnicodeEncodeError):
        t.send("caf\u00e9", trace="T2")
    assert list((tmp_path / "out").iterdir()) == []
