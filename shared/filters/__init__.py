"""Parser filters (grok, date, ...) working on an event's flattened dict."""

from streamstash.filters.base import Verdict
from streamstash.filters.chain import FilterChain

__all__ = ["FilterChain", "Verdict"]
