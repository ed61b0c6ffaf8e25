"""The protocol-neutral core: the application, blueprints, routing and dispatch."""

from .app import Gobstopper
from .blueprint import Blueprint

__all__ = ["Blueprint", "Gobstopper"]
