"""Serve a site directory the way a real web server would: compressed transfer and the right content types.

    rules-pyodide serve DIR [--port PORT]     (also python -m rules_pyodide.serve; 127.0.0.1 only; Ctrl-C stops it)

Every file is sent with `Content-Encoding: gzip` (level 9, computed for every file before the server starts, as
a site serving precompressed files would, so that no request waits for compression) when the client accepts gzip
and the gzipped body is smaller; `Content-Type` comes from the file name (`application/wasm`
for `.wasm`, which `WebAssembly.instantiateStreaming` needs). Symlinks are followed (a site usually links the
runtime in); URL paths with `..` segments are refused. Used by tests/test_bundle.py to measure the example page in
Chromium for both ways of loading an app, with the same serving on both sides.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.server
import os
import posixpath
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path

from rules_pyodide.errors import RulesPyodideError, prog, run_command

PROG = prog("serve")
GZIP_LEVEL = 9
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".py": "text/x-python; charset=utf-8",
    ".wasm": "application/wasm",
    ".data": "application/octet-stream",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
}


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(posixpath.splitext(name)[1], "application/octet-stream")


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header value allows gzip (`gzip` or `*` without `q=0`)."""
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


class Site:
    """A directory and the gzipped bodies computed so far (keyed by resolved path, size and mtime)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._gzipped: dict[tuple[Path, int, int], bytes] = {}
        self._lock = threading.Lock()

    def file_for(self, url_path: str) -> Path | None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path)
        parts = [p for p in path.split("/") if p]
        if any(p in ("..", ".") or "\\" in p for p in parts):
            return None
        target = self.root.joinpath(*parts)
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def precompress(self) -> None:
        """Gzips every file of the site now."""
        for top, dirs, files in os.walk(self.root, followlinks=True):
            dirs.sort()
            for name in sorted(files):
                path = Path(top, name)
                if path.is_file():
                    self.gzipped(path, path.read_bytes())

    def gzipped(self, path: Path, body: bytes) -> bytes:
        stat = path.stat()
        key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._gzipped.get(key)
        if cached is None:
            cached = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            with self._lock:
                self._gzipped[key] = cached
        return cached


def handler_for(site: Site) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _respond(self, send_body: bool) -> None:
            path = site.file_for(self.path)
            if path is None:
                self.send_error(404, "not found")
                return
            body = path.read_bytes()
            encoding = None
            if accepts_gzip(self.headers.get("Accept-Encoding")):
                compressed = site.gzipped(path, body)
                if len(compressed) < len(body):
                    body, encoding = compressed, "gzip"
            self.send_response(200)
            self.send_header("Content-Type", content_type(path.name))
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._respond(True)

        def do_HEAD(self) -> None:
            self._respond(False)

    return Handler


@contextlib.contextmanager
def serve(root: Path, port: int = 0) -> Iterator[str]:
    """Serves `root` on 127.0.0.1 (`port`, 0: a free one) until the block ends; yields the base URL."""
    site = Site(root)
    site.precompress()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler_for(site))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    return run_command(PROG, lambda: _command(args.directory, args.port))


def _command(directory: Path, port: int) -> None:
    if not directory.is_dir():
        raise RulesPyodideError(f"{directory}: not a directory")
    with serve(directory, port) as url:
        print(f"serving {directory} at {url} (gzip, Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
