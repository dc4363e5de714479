"""Python's cyclic garbage collector, set for services that build and drop a batch of objects per record.

A record holds hundreds of events, each an Event, a Source, a fields dict and a tags list: at the default
threshold (700 new container objects) the collector runs several times per record while that record's
objects are still alive, so every one of them is traversed, survives, and is promoted to be traversed again
by the older generations. Those objects are freed by reference counting as soon as the record is done, so
a young generation larger than one record lets almost all of them die uncollected. Freezing what start-up
built (modules, compiled patterns, the Faust app) keeps full collections from walking it over and over.
Reference counting frees everything that is not in a cycle either way; only cyclic garbage waits longer.
"""

from __future__ import annotations

import gc
import logging
import os

from streamstash import names

log = logging.getLogger(__name__)

# New container objects between two young collections: more than one 500-event record builds.
YOUNG_GENERATION_THRESHOLD = 50_000


def settle_garbage_collection(service: str) -> None:
    """Call once start-up is done, before the service's loop starts work."""
    if os.environ.get(names.ENV_GC_TUNING, "").lower() == "off":
        log.info("gc settings left at their defaults", extra={"service": service, "thresholds": gc.get_threshold()})
        return
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
    log.info(
        "gc set for per-record batches",
        extra={"service": service, "thresholds": gc.get_threshold(), "frozen_objects": gc.get_freeze_count()},
    )
