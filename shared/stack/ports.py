"""Ports and addresses of the local stack's servers."""

from __future__ import annotations

import errno
import socket

__all__ = ["connect_host", "free_port", "free_ports", "host_port", "port_available"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's pick; racy by nature, but rarely hit)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1", taken: set[int] | None = None) -> list[int]:
    """``count`` distinct free ports, none of them in ``taken``."""
    chosen: list[int] = []
    avoid = set(taken or ())
    while len(chosen) < count:
        port = free_port(host)
        if port not in avoid:
            avoid.add(port)
            chosen.append(port)
    return chosen


def port_available(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on ``host:port`` now (SO_REUSEADDR, like the servers, so TIME_WAIT is ok)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect_host(host: str) -> str:
    """Where clients connect when a server binds ``host`` (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - a bind address we translate, not one we bind
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
