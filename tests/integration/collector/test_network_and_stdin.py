"""UDP, TCP (newline and octet counting, syslog) and stdin through a real collector process into logs.raw."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamstash import names
from tests.helpers.metrics import assert_service_metrics
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.collector.support import create_topics, raw_events

pytestmark = pytest.mark.integration

RFC5424 = (
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
    '[exampleSDID@32473 iut="3" eventSource="Application"] An application event'
)
RFC3164 = "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick"


def listening_port(process: ServiceProcess, kind: str) -> int:
    def find() -> int | None:
        for line in process.log_text().splitlines():
            if '"listening"' in line:
                entry = json.loads(line)
                if entry.get("input") == kind:
                    return int(entry["port"])
        return None

    return wait_until(find, timeout=60, message=f"{kind} input never listened")


def octet(message: str) -> bytes:
    data = message.encode()
    return str(len(data)).encode() + b" " + data


def test_udp_and_tcp_listeners(servers, tmp_path: Path, log_dir: Path) -> None:
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [
                {"type": "udp", "port": 0},
                {"type": "tcp", "port": 0, "framing": "auto"},
                {
                    "type": "tcp",
                    "port": 0,
                    "framing": "newline",
                    "syslog": False,
                    "multiline": {"pattern": r"^\s+at |^Caused by:", "what": "previous", "timeout_ms": 300},
                },
            ]
        },
    )
    create_topics(pipeline, servers.kafka)
    process = ServiceProcess("collector", pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    try:
        ports = []
        wait_until(lambda: process.log_text().count('"listening"') == 3, timeout=60, message="not listening")
        for line in process.log_text().splitlines():
            if '"listening"' in line:
                entry = json.loads(line)
                ports.append((entry["input"], int(entry["port"])))
        udp_port = next(port for kind, port in ports if kind == names.SOURCE_UDP)
        auto_port, multiline_port = [port for kind, port in ports if kind == names.SOURCE_TCP]

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"log4net line one\nlog4net line two\n", ("127.0.0.1", udp_port))
            udp.sendto(RFC3164.encode(), ("127.0.0.1", udp_port))
            udp.sendto(b"<999>bogus priority", ("127.0.0.1", udp_port))
            udp_peer = f"127.0.0.1:{udp.getsockname()[1]}"
        with socket.create_connection(("127.0.0.1", auto_port)) as tcp:
            tcp.sendall(octet(RFC5424) + octet("<13>Feb  5 17:32:18 host app: two\nlines"))
        with socket.create_connection(("127.0.0.1", auto_port)) as tcp:
            tcp.sendall(b"nc line 1\nnc line 2\n")
        with socket.create_connection(("127.0.0.1", multiline_port)) as tcp:
            tcp.sendall(b"ERROR failed\n  at a.B(B.java:1)\nCaused by: x\n  at c.D(D.java:2)\nINFO fine\n")

        def all_events():
            events = raw_events(servers.kafka, pipeline)
            return events if len(events) >= 10 else None

        events = wait_until(all_events, timeout=60, message="lines did not reach logs.raw")
        by_message = {event.message: event for event in events}
        assert len(events) == 10, [event.message for event in events]

        assert by_message["log4net line one"].source.peer == udp_peer
        assert by_message["log4net line two"].source.kind == names.SOURCE_UDP
        bsd = by_message["'su root' failed for lonvick"].fields[names.FIELD_SYSLOG]
        assert (bsd["facility_name"], bsd["severity_name"], bsd["host"], bsd["program"], bsd["pid"]) == (
            "auth",
            "crit",
            "mymachine",
            "su",
            "230",
        )
        assert by_message["<999>bogus priority"].tags == [names.TAG_SYSLOG_INVALID_PRIORITY]

        rfc5424 = by_message["An application event"]
        assert rfc5424.timestamp == "2003-10-11T22:14:15.003Z"
        assert rfc5424.fields[names.FIELD_SYSLOG]["structured_data"] == {
            "exampleSDID@32473": {"iut": "3", "eventSource": "Application"}
        }
        assert rfc5424.fields[names.FIELD_SYSLOG]["msgid"] == "ID47"
        assert by_message["two\nlines"].source.kind == names.SOURCE_TCP  # a counted frame keeps its newline
        assert {"nc line 1", "nc line 2"} <= set(by_message)
        assert "ERROR failed\n  at a.B(B.java:1)\nCaused by: x\n  at c.D(D.java:2)" in by_message
        assert (
            names.TAG_MULTILINE in by_message["ERROR failed\n  at a.B(B.java:1)\nCaused by: x\n  at c.D(D.java:2)"].tags
        )
        assert "INFO fine" in by_message  # flushed by the timeout / the connection's end
        assert_service_metrics(process.http_port, "collector", sent=10, dropped=0)
    finally:
        assert process.stop() == 0


def test_lines_piped_into_stdin_reach_logs_raw(servers, tmp_path: Path, log_dir: Path) -> None:
    pipeline = write_pipeline(tmp_path, {"inputs": [{"type": "stdin"}]})
    create_topics(pipeline, servers.kafka)
    lines = [f"piped line {number} \u00e9" for number in range(2_000)]
    with open(log_dir / "collector-stdin.log", "wb") as log:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamstash.services.cli",
                "collector",
                "--config",
                str(pipeline.path),
                "--kafka",
                servers.kafka,
                "--elasticsearch",
                servers.elasticsearch,
                "--http-port",
                "0",
            ],
            input=("\n".join(lines) + "\n").encode(),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
            env=dict(os.environ),
            check=False,  # its exit code is asserted below
        )
    assert result.returncode == 0
    events = raw_events(servers.kafka, pipeline)
    assert [event.message for event in events] == lines  # one source: one partition, in order
    assert [event.source.offset for event in events] == list(range(1, 2_001))
    assert all(event.source.kind == names.SOURCE_STDIN for event in events)
