"""Scenario files in, validated scenarios out."""

from .load import Problem, ScenarioError, load_file, load_scenarios
from .model import ENGINES, OUTCOMES, Answer, Backend, Blueprint, Case, ErrorHandler, Hook, Origin, Route, Scenario

__all__ = [
    "ENGINES",
    "OUTCOMES",
    "Answer",
    "Backend",
    "Blueprint",
    "Case",
    "ErrorHandler",
    "Hook",
    "Origin",
    "Problem",
    "Route",
    "Scenario",
    "ScenarioError",
    "load_file",
    "load_scenarios",
]
