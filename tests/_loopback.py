"""A small HTTP server on 127.0.0.1 for download tests (never the internet).

``routes[path]`` is the body, or ``(body, declared_length)`` to announce a length other
than what is sent (a dropped connection); ``delay_s`` slows every answer.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    def __init__(self, delay_s: float = 0.0):
        self.routes: dict[str, bytes | tuple[bytes, int | None]] = {}
        self.delay_s = delay_s
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                time.sleep(outer.delay_s)
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body, declared = route if isinstance(route, tuple) else (route, None)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) if declared is None else declared))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
