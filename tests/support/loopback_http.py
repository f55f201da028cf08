"""A small HTTP server on the loopback for the peers CodeB calls in tests (a client's
jwks_uri, a relying party's back-channel logout endpoint): a free port on 127.0.0.1, served
from a daemon thread, stopped at the end of the `with`."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers in one call."""

    def answer(self, status: int, body: bytes = b"", content_type: str | None = None, **headers: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, *args):
        pass


def start(handler: type[BaseHTTPRequestHandler], **attributes) -> ThreadingHTTPServer:
    """Serves `handler` on 127.0.0.1 at a free port; `attributes` are set on the server, for the
    handler to reach as `self.server.<name>`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in attributes.items():
        setattr(server, name, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], **attributes):
    server = start(handler, **attributes)
    try:
        yield server
    finally:
        stop(server)


def url(server: ThreadingHTTPServer, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.server_port}{path}"
