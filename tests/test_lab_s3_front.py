"""The lab's S3 front plays a real outage: what `lost_after_s3_outage` measures depends on it."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simulation.standins.s3_front import S3Front


class _Stored(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def front() -> Iterator[S3Front]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Stored)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    front = S3Front(int(upstream.server_address[1]), authorize=lambda key_id, path: None)
    front.start()
    yield front
    front.stop()
    upstream.shutdown()
    upstream.server_close()


def _put(connection: http.client.HTTPConnection, key: str) -> int:
    connection.request("PUT", f"/bucket/{key}", body=b"[]")
    response = connection.getresponse()
    response.read()
    return response.status


def test_an_outage_cuts_connections_kept_alive_from_before(front: S3Front) -> None:
    kept = http.client.HTTPConnection("127.0.0.1", front.port, timeout=5)
    assert _put(kept, "before") == 200
    front.stop()
    # Vector's client reuses its pooled connection: the outage must reach it too.
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        _put(kept, "during")
    with pytest.raises(ConnectionRefusedError):
        _put(http.client.HTTPConnection("127.0.0.1", front.port, timeout=5), "new")
    front.start()
    assert _put(http.client.HTTPConnection("127.0.0.1", front.port, timeout=5), "after") == 200
    assert [write.key for write in front.writes] == ["/bucket/before", "/bucket/after"]
