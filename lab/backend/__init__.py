"""Build a real Flask backend from a scenario, and record what it exchanged."""

from .app import BackendBuildError, build_app
from .recorder import TOKEN_PARAM, Exchange, Recorder

__all__ = ["BackendBuildError", "Exchange", "Recorder", "TOKEN_PARAM", "build_app"]
