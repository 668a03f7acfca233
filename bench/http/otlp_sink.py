"""A stand-in OTLP/HTTP trace collector for the tracing benchmark: accepts every export with an
empty success response and counts what it received, printing the totals when stopped.

    python bench/http/otlp_sink.py --port P
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class Sink(BaseHTTPRequestHandler):
    exports: ClassVar[int] = 0
    received: ClassVar[int] = 0
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_GET(self) -> None:  # readiness, for the harness
        self._answer(b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with Sink.lock:
            Sink.exports += 1
            Sink.received += len(body)
        # An empty ExportTraceServiceResponse: everything accepted.
        self._answer(b"", "application/x-protobuf")

    def _answer(self, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the access log: not wanted
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Sink)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()
    print(f"otlp sink: {Sink.exports} exports, {Sink.received} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
