"""Listening sockets for mlops-guard's servers (the alert receiver, the scoring server)."""

from __future__ import annotations

import socket

__all__ = ["bind_listener"]


def bind_listener(host: str, port: int, *, backlog: int, hint: str) -> socket.socket:
    """A socket listening on ``host:port``, inheritable so worker processes can share it.

    A port that is taken or an address that is not this host's is a :class:`ConfigError`
    naming the address; ``hint`` says which setting picks another.
    """
    from mlops_guard.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint=hint
        ) from exc
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock
