"""One exception type for every bad input, so the CLI can print one clear message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AvengersError(Exception):
    """A problem with the user's input or configuration. The message names the fix."""


class OutcomeError(AvengersError):
    """The outcome table breaks an invariant of the canonical schema."""


class ConfigError(AvengersError):
    """A configuration value is unknown or out of range."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' suffix for error messages, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), sorted(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
