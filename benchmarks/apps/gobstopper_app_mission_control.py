"""The hello-world benchmark app with Mission Control on (an access token, no debug): what recording costs."""

from __future__ import annotations

from gobstopper.extensions.mission_control import MissionControl

from .gobstopper_app import app

app.register_extension(MissionControl(token="benchmark-token"))
