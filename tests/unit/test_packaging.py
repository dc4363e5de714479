"""The package list in pyproject.toml is written by hand (the layout maps directories); keep it complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def discovered_packages() -> set[str]:
    mapping = {"shared": "streamstash", "services": "streamstash.services"}
    found = set()
    for root, prefix in mapping.items():
        for init in (REPO / root).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / root)
            found.add(".".join([prefix, *relative.parts]) if relative.parts else prefix)
    return found


def test_every_package_directory_is_listed() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert discovered_packages() == listed


def test_no_bare_shared_or_services_package_is_installed() -> None:
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert all(name == "streamstash" or name.startswith("streamstash.") for name in listed)
