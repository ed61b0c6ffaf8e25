"""The README's simple example.

Run it from this directory with any of::

    gobstopper run hello:app                   # granian, RSGI
    gobstopper run hello:app --server uvicorn  # uvicorn, ASGI
    gobstopper run hello:app --reload          # restart on changes
"""

from __future__ import annotations

from gobstopper import Gobstopper, Request, jsonify

app = Gobstopper(__name__)


@app.get("/")
async def hello(request: Request):
    return jsonify({"message": "Hello from Gobstopper!"})


@app.get("/users/<user_id>")
async def get_user(request: Request, user_id: str):
    return jsonify({"user_id": user_id, "name": f"User {user_id}"})
