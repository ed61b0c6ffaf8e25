"""Mission Control: the app's dashboard at ``/_gobstopper`` (see ``extension.py`` and ``docs/mission-control.md``).

>>> from gobstopper import Gobstopper
>>> from gobstopper.extensions.mission_control import MissionControl
>>> app = Gobstopper(__name__)
>>> mission_control = app.register_extension(MissionControl(token="s3cret-token"))
"""

from __future__ import annotations

from .extension import MissionControl, wanted

__all__ = ["MissionControl", "wanted"]
