"""examples/streamed_rows.py on every path: a 10,000-row page streamed as the template renders."""

from __future__ import annotations

from compat_tests.harness import Target, assert_same

APP = "streamed_rows:app"


def test_ten_thousand_rows_streamed(target: Target, ref: Target) -> None:
    r = target.get("/rows")
    assert (r.status, r.header("content-type")) == (200, "text/html; charset=utf-8"), r
    assert r.header("content-length") is None  # sent as it renders
    text = r.text
    assert text.count("<tr><td>") == 10_000
    assert "<td>10000</td><td>player-10000</td>" in text and text.rstrip().endswith("</html>")
    assert_same(r, ref.get("/rows"))


def test_bad_count_is_a_400(target: Target) -> None:
    assert target.get("/rows?n=lots").status == 400
