"""Readiness probes: does a Kafka broker, or an HTTP search engine, answer at an address?

The Kafka probe speaks the wire protocol itself (no client library, no event loop), with request
versions every broker we start still serves: Kafka 4 removed Metadata v0-v3 (KIP-896).
"""

from __future__ import annotations

import socket
import struct
import urllib.error
import urllib.request

API_VERSIONS = 18
METADATA = 3
METADATA_VERSION = 4  # the oldest version Kafka 4 serves; not "flexible" (no tagged fields)


def _kafka_request(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    client_id = b"streamstash-stack"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
    response = _recv_exactly(sock, size)
    if struct.unpack(">i", response[:4])[0] != correlation_id:
        raise ConnectionError("kafka: response to another request")
    return response[4:]


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("kafka: connection closed mid-response")
        chunks += chunk
    return bytes(chunks)


def kafka_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if a Kafka broker at host:port answers ApiVersions and a Metadata request naming a broker."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            # ApiVersions v0: error_code int16, [api_key int16, min int16, max int16]
            body = _kafka_request(sock, API_VERSIONS, 0, 1, b"")
            error_code, count = struct.unpack(">hi", body[:6])
            if error_code != 0:
                return False
            versions = {}
            for index in range(count):
                key, low, high = struct.unpack(">hhh", body[6 + 6 * index : 12 + 6 * index])
                versions[key] = (low, high)
            low, high = versions.get(METADATA, (1, 0))
            if not low <= METADATA_VERSION <= high:
                return False
            # Metadata v4, no topics (empty array), no auto-creation:
            # throttle_time_ms int32, brokers [node_id, host, port, rack], ...
            body = _kafka_request(sock, METADATA, METADATA_VERSION, 2, struct.pack(">ib", 0, 0))
            brokers = struct.unpack(">i", body[4:8])[0]
            return bool(brokers >= 1)
    except (OSError, ConnectionError, struct.error):
        return False


def http_answers(url: str, timeout: float = 2.0) -> bool:
    """True if ``GET <url>/`` returns 200."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout) as response:  # noqa: S310 (local URL)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False
