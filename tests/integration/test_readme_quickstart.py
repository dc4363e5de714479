"""The README's quick start, tried as a new user would: `make run`'s command, then the README's shell block.

`streamstash run --config examples/tutorial.yml` runs in a scratch copy of the examples (with `.venv` linked
in), so it starts a local stack under that copy's `.streamstash/` as `make run` does in a checkout. Once the
tutorial's documents are in, Ctrl-C stops the services, and every command of the README's block runs in one
shell, as written. A comment that is JSON (`# {"count":100,...}`, `...` standing for what is left out) is
what the command must print: the test parses both and checks the printed document holds the README's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from streamstash.stack.manager import LocalStack
from tests.helpers.elastic import wait_for_count
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK_MARKER = "<!-- quick start: tests/integration/test_readme_quickstart.py runs this block -->"
MARKER = "@@@ streamstash readme command done @@@"


def quickstart_commands(readme: str) -> list[tuple[str, str | None]]:
    """The (command, comment) pairs of the README's quick-start shell block, continuation lines joined."""
    start = readme.index("```sh", readme.index(BLOCK_MARKER))
    body = readme[readme.index("\n", start) + 1 : readme.index("\n```", start)]
    commands: list[tuple[str, str | None]] = []
    pending = ""
    for line in body.split("\n"):
        text, _, comment = line.partition("  # ")
        text = text.rstrip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        commands.append(((pending + text).strip(), comment.strip() or None))
        pending = ""
    return commands


def expected_json(comment: str) -> Any | None:
    """A comment that is a JSON document with `...` for what it leaves out, as that document; else None."""
    if not comment.startswith(("{", "[")):
        return None
    return json.loads(re.sub(r",\s*\.\.\.", "", comment))


def contains(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` holds ``expected``: its keys with such values, each expected list item in the list."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(any(contains(item, wanted) for item in actual) for wanted in expected)
    return bool(actual == expected)


def test_the_readme_parses_its_own_expectations() -> None:
    commands = quickstart_commands(README.read_text(encoding="utf-8"))
    assert commands[0][0] == ".venv/bin/streamstash stack status" and commands[-1][0].endswith("stack down")
    checked = [(command, expected_json(comment)) for command, comment in commands if comment]
    assert sum(expected is not None for _, expected in checked) >= 4, checked
    assert contains({"count": 100, "_shards": {}}, expected_json('{"count":100,...}'))
    assert not contains({"count": 102}, expected_json('{"count":100,...}'))
    assert not contains({"buckets": [{"key": "GET", "doc_count": 99}]}, {"buckets": [{"key": "GET", "doc_count": 100}]})


def test_quickstart_commands_print_what_the_readme_says(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("the README's commands use curl, which this machine lacks")
    work = tmp_path / "checkout"
    shutil.copytree(ROOT / "examples", work / "examples")
    (work / ".venv").symlink_to(Path(sys.prefix))  # the environment running the tests, as make built it
    env = {key: value for key, value in os.environ.items() if key not in (names.ENV_KAFKA, names.ENV_ELASTICSEARCH)}
    log = tmp_path / "run.log"
    stack = LocalStack(work / names.DEFAULT_STATE_DIR)
    run = subprocess.Popen(
        [str(work / ".venv" / "bin" / "streamstash"), "run", "--config", "examples/tutorial.yml"],
        cwd=work,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        addresses = wait_until(stack.status, timeout=120, message="`streamstash run` did not start the local stack")
        es = Elasticsearch(addresses.elasticsearch)
        wait_for_count(es, "logs-tutorial-2015.*", 100, timeout=240)
        wait_for_count(es, "logs-tutorial-aggregates", 2, timeout=120)
        es.close()
        run.send_signal(signal.SIGINT)  # Ctrl-C: the services stop, the stack stays up
        assert run.wait(timeout=90) == 0, log.read_text(errors="replace")[-3000:]

        commands = quickstart_commands(README.read_text(encoding="utf-8"))
        script = "".join(f"{command}\necho '{MARKER}'\n" for command, _ in commands)
        shell = subprocess.run(
            ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        outputs = shell.stdout.split(MARKER + "\n")
        assert len(outputs) == len(commands) + 1, (shell.stdout, shell.stderr)
        for (command, comment), printed in zip(commands, outputs, strict=False):
            expected = expected_json(comment or "")
            if expected is not None:
                assert contains(json.loads(printed), expected), f"{command}\n  README: {comment}\n  printed: {printed}"
        status = outputs[0]
        assert addresses.kafka in status and addresses.elasticsearch in status, status
        assert stack.status() is None, "`stack down` left the stack running"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        stack.down()
