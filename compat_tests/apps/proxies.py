"""Who is the client? ``app`` trusts no proxy; the app mounted at ``/trusting`` trusts 127.0.0.1 (every path's
peer). ``/who`` answers what the request believes: ``client_ip``, ``scheme`` and ``url``."""

from __future__ import annotations

from gobstopper import Gobstopper

app = Gobstopper(__name__)
trusting = app.mount("/trusting", Gobstopper("trusting"))
trusting.trusted_proxies = ["127.0.0.1/32"]


async def who(request):
    return {"client_ip": request.client_ip, "scheme": request.scheme, "url": request.url}


app.get("/who")(who)
trusting.get("/who")(who)
