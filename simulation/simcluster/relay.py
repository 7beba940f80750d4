"""A TCP relay between network namespaces, one process per listener; the standard library only,
so it runs as a plain script.

    relay.py tcp --listen 198.18.0.2:6443 --listen-netns /run/netns/HUB --to 127.0.0.1:41234
    relay.py connect --listen-unix /path/egress.sock --to-netns /run/netns/NODE \
        --allow 198.18.0.0/15

`tcp` listens inside one namespace and connects in another (default: the one it was started in):
how pods and kubelets inside the run's namespaces reach the control plane and other services
on the root namespace's loopback. `connect` is an HTTP CONNECT proxy on a Unix socket, which the
API server's egress selector dials to reach kubelets, pods and Services: it opens each
connection inside the given namespace, to the allowed ranges only (addresses, never names).

A socket belongs for good to the namespace it was created in, and a thread can enter a network
namespace alone (setns), so the listener is made on a thread that entered the namespace and
everything else runs on the main thread. `--ready FILE` is written once the listener listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

CLONE_NEWNET = 0x40000000
CONNECT_TIMEOUT = 10.0
CHUNK = 65536
T = TypeVar("T")


def enter_netns(path: str | None) -> None:
    """Moves the calling thread (only it) into the network namespace at `path`."""
    if not path:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({path}): {os.strerror(error)}")
    finally:
        os.close(fd)


def in_netns(path: str | None, make: Callable[[], T]) -> T:
    """`make()` run on a thread inside the namespace at `path`; what it returns."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            enter_netns(path)
            result.append(make())
        except BaseException as error:  # handed to the caller's thread
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def split_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def tcp_listener(host: str, port: int, netns: str | None) -> socket.socket:
    def make() -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(256)
        sock.setblocking(False)
        return sock

    return in_netns(netns, make)


class Upstream:
    """Connections made inside a namespace (a worker thread that stays in it creates the
    sockets), or in this process's own namespace."""

    def __init__(self, netns: str | None) -> None:
        self.pool = (
            ThreadPoolExecutor(1, initializer=enter_netns, initargs=(netns,)) if netns else None
        )

    async def open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.pool is None:
            return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = await loop.run_in_executor(self.pool, socket.socket, family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), CONNECT_TIMEOUT)
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Bytes both ways until both sides are done; a reset on one side resets the other."""
    try:
        await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))
    finally:
        for _, writer in (a, b):
            writer.close()


def log(text: str) -> None:
    print(text, flush=True)


async def serve_tcp(args: argparse.Namespace) -> None:
    host, port = split_address(args.listen)
    to_host, to_port = split_address(args.to)
    upstream = Upstream(args.to_netns)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            far = await upstream.open(to_host, to_port)
        except (OSError, TimeoutError) as error:
            log(f"{args.to}: {error!r}")
            writer.close()
            return
        await splice((reader, writer), far)

    server = await asyncio.start_server(handle, sock=tcp_listener(host, port, args.listen_netns))
    log(f"relaying {args.listen} (netns {args.listen_netns}) to {args.to}")
    _ready(args.ready)
    async with server:
        await server.serve_forever()


def allowed(host: str, ranges: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: never resolved here
    return any(ip in network for network in ranges)


async def serve_connect(args: argparse.Namespace) -> None:
    ranges = [ipaddress.ip_network(text) for text in args.allow]
    upstream = Upstream(args.to_netns)

    async def refuse(writer: asyncio.StreamWriter, status: str, why: str) -> None:
        log(why)
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        method, target, *_ = [*head.split(b"\r\n", 1)[0].decode("latin-1").split(" "), "", ""]
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if method != "CONNECT" or not port.isdigit() or not allowed(host, ranges):
            await refuse(writer, "403 Forbidden", f"refused {method} {target}")
            return
        try:
            far = await upstream.open(host, int(port))
        except (OSError, TimeoutError) as error:
            await refuse(writer, "502 Bad Gateway", f"{target}: {error!r}")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await splice((reader, writer), far)

    path = Path(args.listen_unix)
    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(handle, path=str(path))
    path.chmod(0o600)
    log(f"CONNECT proxy on {path} into {args.to_netns}, to {', '.join(args.allow)}")
    _ready(args.ready)
    async with server:
        await server.serve_forever()


def _ready(path: str | None) -> None:
    if path:
        Path(path).write_text(f"{os.getpid()}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    tcp = modes.add_parser("tcp", help="listen in one namespace, connect in another")
    tcp.add_argument("--listen", required=True, help="ADDRESS:PORT")
    tcp.add_argument("--listen-netns", help="a network namespace file (/run/netns/NAME)")
    tcp.add_argument("--to", required=True, help="ADDRESS:PORT")
    tcp.add_argument("--to-netns", help="a network namespace file; default: this process's")
    connect = modes.add_parser("connect", help="an HTTP CONNECT proxy on a Unix socket")
    connect.add_argument("--listen-unix", required=True)
    connect.add_argument("--to-netns", help="a network namespace file; default: this process's")
    connect.add_argument("--allow", action="append", required=True, help="a CIDR (repeatable)")
    for mode in (tcp, connect):
        mode.add_argument("--ready", help="a file written once listening")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve_tcp(args) if args.mode == "tcp" else serve_connect(args))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
