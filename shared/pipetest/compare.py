"""Expected documents against produced ones, field by field, with a difference a person can read."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streamstash.events.fieldpath import remove_field

Document = dict[str, Any]
# Per pair (index of the produced document, it, the expected one): the produced document as it should be
# compared with that expected one (LFV files leave streamstash's bookkeeping fields of aggregates out).
Prepare = Callable[[int, Document, Document], Document]
MISSING: Any = object()
VALUE_WIDTH = 1000  # a value in a difference; whole documents (missing, not expected) are printed in full


def render_path(path: Sequence[str | int]) -> str:
    """A Logstash field reference: `response`, `[http][status]`, `[tags][0]`."""
    if len(path) == 1 and isinstance(path[0], str):
        return path[0]
    return "".join(f"[{part}]" for part in path) or "(document)"


def render_value(value: Any, width: int | None = VALUE_WIDTH) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


@dataclass(frozen=True)
class Difference:
    path: tuple[str | int, ...]
    expected: Any = MISSING
    got: Any = MISSING

    def describe(self) -> str:
        where = render_path(self.path)
        if self.got is MISSING:
            return f"{where}: missing, expected {render_value(self.expected)}"
        if self.expected is MISSING:
            return f"{where}: not expected, got {render_value(self.got)}"
        return f"{where}: expected {render_value(self.expected)}, got {render_value(self.got)}"


def same_value(expected: Any, got: Any) -> bool:
    """JSON equality: 1 and 1.0 are the same number (as after a JSON round trip), true is not 1."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return expected == got
    if type(expected) is not type(got):
        return False
    return bool(expected == got)


def differences(expected: Any, got: Any, mode: str, path: tuple[str | int, ...] = ()) -> list[Difference]:
    """Where ``got`` differs from ``expected``. `subset`: fields ``got`` has beyond those expected are fine, at
    every level of nesting; lists are compared item by item and must be as long."""
    found: list[Difference] = []
    if isinstance(expected, dict) and isinstance(got, dict):
        for key, value in expected.items():
            if key not in got:
                found.append(Difference((*path, key), expected=value))
            else:
                found.extend(differences(value, got[key], mode, (*path, key)))
        if mode == "all":
            found.extend(Difference((*path, key), got=value) for key, value in got.items() if key not in expected)
    elif isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for index, (left, right) in enumerate(zip(expected, got, strict=True)):
            found.extend(differences(left, right, mode, (*path, index)))
    elif not same_value(expected, got):
        found.append(Difference(path, expected, got))
    return found


def without(document: Document, ignore: Sequence[str]) -> Document:
    if not ignore:
        return document
    document = copy.deepcopy(document)
    for reference in ignore:
        remove_field(document, reference)
    return document


@dataclass
class Comparison:
    """The outcome of one kind (documents, aggregates, dead letters): the lines to print when it failed."""

    kind: str
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def compare_documents(
    kind: str,
    expected: list[Document],
    got: list[Document],
    mode: str,
    ignore: Sequence[str] = (),
    ordered: bool = True,
    prepare: Prepare | None = None,
) -> Comparison:
    """Each expected document against the produced ones; ``ordered``: the n-th against the n-th."""
    wanted = [without(item, ignore) for item in expected]
    produced = [without(item, ignore) for item in got]

    def diff(want: int, have: int) -> list[Difference]:
        document = produced[have] if prepare is None else prepare(have, produced[have], wanted[want])
        return differences(wanted[want], document, mode)

    pairs: list[tuple[int, int, list[Difference]]] = []
    if ordered:
        pairs = [(index, index, diff(index, index)) for index in range(min(len(wanted), len(produced)))]
        missing = list(range(len(produced), len(wanted)))
        extra = list(range(len(wanted), len(produced)))
    else:
        pairs, missing, extra = _best_pairs(len(wanted), len(produced), diff)
    problems: list[str] = []
    for want, have, found in pairs:
        if found:
            label = f"{kind}[{want}]" if want == have else f"{kind}[{want}] (got {kind}[{have}])"
            problems.append(f"{label}: {len(found)} difference{'s' if len(found) > 1 else ''}")
            problems.extend(f"    {item.describe()}" for item in found)
    if missing or extra:
        problems.append(f"{kind}: expected {len(wanted)}, got {len(produced)}")
    problems.extend(f"    missing {kind}[{index}]: {render_value(wanted[index], None)}" for index in missing)
    problems.extend(f"    not expected {kind}[{index}]: {render_value(produced[index], None)}" for index in extra)
    return Comparison(kind, problems)


def _best_pairs(
    wanted: int, produced: int, diff: Callable[[int, int], list[Difference]]
) -> tuple[list[tuple[int, int, list[Difference]]], list[int], list[int]]:
    """Order-free pairing: exact matches first, then each remaining expected document with the closest one left."""
    free = list(range(produced))
    pairs: list[tuple[int, int, list[Difference]]] = []
    unmatched = []
    for want in range(wanted):
        match = next((have for have in free if not diff(want, have)), None)
        if match is None:
            unmatched.append(want)
        else:
            free.remove(match)
            pairs.append((want, match, []))
    missing = []
    for want in unmatched:
        if not free:
            missing.append(want)
            continue
        found, have = min(((diff(want, have), have) for have in free), key=lambda item: len(item[0]))
        free.remove(have)
        pairs.append((want, have, found))
    pairs.sort()
    return pairs, missing, free
