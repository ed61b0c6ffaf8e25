"""``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only from ``app.trusted_proxies``, on every path
(issue 11, item 9).

uvicorn applies its own proxy-header policy by default (``--proxy-headers``, trusting ``FORWARDED_ALLOW_IPS``,
127.0.0.1 by default) and rewrites the client address and scheme before the app sees them. ``gobstopper run
--server uvicorn`` turns that off so the app's ``trusted_proxies`` is the only policy; the harness starts uvicorn
the same way (``--no-proxy-headers``). ``tests/test_cli.py`` checks ``gobstopper run`` itself on real servers.
"""

from __future__ import annotations

from compat_tests.harness import Target, assert_same

APP = "proxies:app"

FORWARDED = [("x-forwarded-for", "203.0.113.9, 198.51.100.7"), ("x-forwarded-proto", "https")]


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(target: Target, ref: Target) -> None:
    r = target.get("/who", headers=FORWARDED)
    assert r.status == 200, r
    assert r.json() == {"client_ip": "127.0.0.1", "scheme": "http", "url": "http://testserver/who"}
    assert_same(r, ref.get("/who", headers=FORWARDED))


def test_forwarded_headers_from_a_trusted_peer_are_believed(target: Target, ref: Target) -> None:
    r = target.get("/trusting/who", headers=FORWARDED)
    assert r.status == 200, r
    # The right-most address that is not a trusted proxy: 198.51.100.7 (the one our proxy saw).
    assert r.json() == {"client_ip": "198.51.100.7", "scheme": "https", "url": "https://testserver/trusting/who"}
    assert_same(r, ref.get("/trusting/who", headers=FORWARDED))


def test_no_forwarded_headers(target: Target, ref: Target) -> None:
    r = target.get("/trusting/who")
    assert r.json() == {"client_ip": "127.0.0.1", "scheme": "http", "url": "http://testserver/trusting/who"}
    assert_same(r, ref.get("/trusting/who"))
