"""Logstash-compatible grok: `%{SYNTAX:SEMANTIC:type}` expressions over a library of named regexes."""

from streamstash.grok.engine import Grok, GrokResult
from streamstash.grok.errors import GrokError
from streamstash.grok.library import BUILTIN_PATTERNS_DIR, load_pattern_library

__all__ = ["BUILTIN_PATTERNS_DIR", "Grok", "GrokError", "GrokResult", "load_pattern_library"]
