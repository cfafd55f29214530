"""A web server that misbehaves on purpose, on 127.0.0.1, for the fault tests.

Each path is one fault; the rest is served from a folder as usual:
  /fault/stall/NAME       accepts, then says nothing (the client must time out)
  /fault/short/NAME       promises the file's length, sends half, hangs up
  /fault/loop/NAME        redirects to itself, forever
  /fault/status/CODE/NAME answers CODE (404, 500, ...)
  /fault/busy/NAME        429 with Retry-After: 1 on the first request, the file after
  /fault/slow/NAME        the file, 8 KiB at a time with a pause (a long download)
"""

from __future__ import annotations

import http.server
import socket
import time
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

from transcribe.demo import serve


class _Handler(http.server.SimpleHTTPRequestHandler):
    busy_seen: set[str]  # set per server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        parts = urlsplit(self.path).path.lstrip("/").split("/")
        if parts[0] != "fault" or len(parts) < 3:
            return super().do_GET()
        kind, rest = parts[1], parts[2:]
        if kind == "stall":
            time.sleep(30)
            return None
        if kind == "loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()
            return None
        if kind == "status":
            self.send_error(int(rest[0]))
            return None
        body = (Path(self.directory) / "/".join(rest[-1:])).read_bytes()
        if kind == "busy" and self.path not in self.busy_seen:
            self.busy_seen.add(self.path)
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "short":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if kind == "slow":
            for start in range(0, len(body), 8192):
                self.wfile.write(body[start : start + 8192])
                self.wfile.flush()
                time.sleep(0.2)
            return None
        self.wfile.write(body)
        return None

    do_HEAD = do_GET  # noqa: N815


def faulty_server(directory: Path) -> AbstractContextManager[str]:
    """Serve `directory` with the faults above; yields the base URL, ending in "/"."""
    return serve(directory, type("Handler", (_Handler,), {"busy_seen": set()}))


def refused_url(name: str) -> str:
    """A URL on a port where nothing listens (it was free a moment ago)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/{name}"
