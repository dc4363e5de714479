"""The one exception of the grok package."""

from __future__ import annotations


class GrokError(ValueError):
    """A grok expression cannot be used: unknown pattern, recursive definition, invalid regex, bad pattern file."""
