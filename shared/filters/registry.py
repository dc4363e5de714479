"""Filter kind (the key in the pipeline file) -> implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamstash.filters.base import Filter
from streamstash.filters.csv import CsvFilter
from streamstash.filters.date import DateFilter
from streamstash.filters.dissect import DissectFilter
from streamstash.filters.drop import DropFilter
from streamstash.filters.fingerprint import FingerprintFilter
from streamstash.filters.geoip import GeoipFilter
from streamstash.filters.grok import GrokFilter
from streamstash.filters.json import JsonFilter
from streamstash.filters.kv import KvFilter
from streamstash.filters.mutate import MutateFilter
from streamstash.filters.syslog_pri import SyslogPriFilter
from streamstash.filters.translate import TranslateFilter
from streamstash.filters.urldecode import UrldecodeFilter
from streamstash.filters.useragent import UseragentFilter

FILTERS: dict[str, Callable[[Any], Filter]] = {
    "grok": GrokFilter,
    "dissect": DissectFilter,
    "kv": KvFilter,
    "json": JsonFilter,
    "date": DateFilter,
    "mutate": MutateFilter,
    "drop": DropFilter,
    "geoip": GeoipFilter,
    "useragent": UseragentFilter,
    "translate": TranslateFilter,
    "csv": CsvFilter,
    "fingerprint": FingerprintFilter,
    "urldecode": UrldecodeFilter,
    "syslog_pri": SyslogPriFilter,
}


def build_filter(kind: str, settings: Any) -> Filter:
    return FILTERS[kind](settings)
