"""A FastCGI client that talks to a FastCGI application the way IIS's FastCgiModule does.

The FastCGI 1.0 specification (fastcgi-archives.github.io/FastCGI_Specification.html):
one connection kept open across requests (`FCGI_KEEP_CONN`), each request a
BEGIN_REQUEST record (§5.1), its parameters as a PARAMS stream of name-value
pairs (§3.4, §5.2), its body as a STDIN stream (§5.3), then the application's
STDOUT and STDERR streams until its END_REQUEST record (§5.5). Records are padded
to a multiple of eight bytes, as §3.3 recommends. The STDOUT stream is a CGI
response (RFC 3875 §6): `Status:` and the header fields, a blank line, the body.

`iis_params` builds the CGI variables IIS sends for a request to a site whose
handler takes every path (web.config's `path="*"`): PATH_INFO and SCRIPT_NAME are
both the URL path, HTTPS is `on` behind an HTTPS binding, and APPL_PHYSICAL_PATH
is the site folder.
"""

import socket
import struct
from dataclasses import dataclass, field

VERSION_1 = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
RESPONDER = 1
KEEP_CONN = 1
REQUEST_COMPLETE = 0
MAX_CONTENT = 0xFFFF  # contentLength is two bytes (§3.3)
HEADER = struct.Struct(">BBHHBx")  # version, type, requestId, contentLength, paddingLength, reserved


def record(kind: int, request_id: int, content: bytes = b"") -> bytes:
    if len(content) > MAX_CONTENT:
        raise ValueError("a record holds at most 65535 bytes")
    padding = -len(content) % 8
    return HEADER.pack(VERSION_1, kind, request_id, len(content), padding) + content + b"\0" * padding


def stream(kind: int, request_id: int, data: bytes, *, chunk: int = MAX_CONTENT) -> bytes:
    """A stream (§3.3): the data in records of at most `chunk` bytes, then an empty record."""
    records = [record(kind, request_id, data[i:i + chunk]) for i in range(0, len(data), chunk)]
    return b"".join(records) + record(kind, request_id)


def length(n: int) -> bytes:
    """A name or value length (§3.4): one byte below 128, else four with the high bit set."""
    return struct.pack(">B", n) if n < 0x80 else struct.pack(">I", n | 0x80000000)


def name_value_pairs(params: dict[str, str]) -> bytes:
    parts = []
    for name, value in params.items():
        raw_name, raw_value = name.encode("latin-1"), value.encode("latin-1")
        parts += [length(len(raw_name)), length(len(raw_value)), raw_name, raw_value]
    return b"".join(parts)


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    errors: bytes = b""  # the application's FCGI_STDERR stream
    app_status: int = 0
    protocol_status: int = REQUEST_COMPLETE
    records: list[int] = field(default_factory=list)  # the record types received, in order

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def cgi_response(output: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Status, reason, header fields and body of a CGI response (RFC 3875 §6.2, §6.3.3)."""
    head, separator, body = output.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = output.partition(b"\n\n")
    if not separator:
        raise ValueError(f"no end of the CGI header in {output[:200]!r}")
    headers = []
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"not a CGI header field: {line!r}")
        headers.append((name.strip(), value.strip()))
    status = next((value for name, value in headers if name.lower() == "status"), "200 OK")
    code, _, reason = status.partition(" ")
    return int(code), reason, [(n, v) for n, v in headers if n.lower() != "status"], body


class Connection:
    """One FastCGI connection; requests are sent one after another on it, as IIS does."""

    def __init__(self, sock: socket.socket, *, timeout: float = 10.0):
        sock.settimeout(timeout)
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.next_id = 1

    def request(self, params: dict[str, str], body: bytes = b"", *, chunk: int = MAX_CONTENT) -> Response:
        request_id, self.next_id = self.next_id, self.next_id + 1
        begin = struct.pack(">HB5x", RESPONDER, KEEP_CONN)
        self.sock.sendall(record(BEGIN_REQUEST, request_id, begin)
                          + stream(PARAMS, request_id, name_value_pairs(params))
                          + stream(STDIN, request_id, body, chunk=chunk))
        output, errors, kinds = bytearray(), bytearray(), []
        while True:
            kind, got_id, content = self.read_record()
            kinds.append(kind)
            if got_id != request_id:
                raise AssertionError(f"a record for request {got_id} while request {request_id} was open")
            if kind == STDOUT:
                output += content
            elif kind == STDERR:
                errors += content
            elif kind == END_REQUEST:
                app_status, protocol_status = struct.unpack(">IB3x", content)
                break
            else:
                raise AssertionError(f"unexpected record type {kind}")
        status, reason, headers, response_body = cgi_response(bytes(output))
        return Response(status, reason, headers, response_body, bytes(errors), app_status, protocol_status, kinds)

    def read_record(self) -> tuple[int, int, bytes]:
        version, kind, request_id, content_length, padding = HEADER.unpack(self.read_exactly(HEADER.size))
        if version != VERSION_1:
            raise AssertionError(f"FastCGI version {version}")
        content = self.read_exactly(content_length)
        self.read_exactly(padding)
        return kind, request_id, content

    def read_exactly(self, n: int) -> bytes:
        data = self.reader.read(n)
        if len(data) != n:
            raise ConnectionError(f"the application closed the connection ({len(data)} of {n} bytes)")
        return data

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def iis_params(method: str, path: str, *, host: str, site_folder: str, query: str = "",
               headers: dict[str, str] | None = None, body: bytes = b"") -> dict[str, str]:
    """The CGI variables IIS sends to a FastCGI handler for a request on an HTTPS binding."""
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "Microsoft-IIS/10.0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": host,
        "SERVER_PORT": "443",
        "SERVER_PORT_SECURE": "1",
        "HTTPS": "on",
        "REQUEST_METHOD": method,
        "URL": path,
        "PATH_INFO": path,
        "SCRIPT_NAME": path,  # the handler matched the whole path; wfastcgi clears it
        "QUERY_STRING": query,
        "REMOTE_ADDR": "192.0.2.10",
        "REMOTE_PORT": "50123",
        "APPL_MD_PATH": "/LM/W3SVC/2/ROOT",
        "APPL_PHYSICAL_PATH": site_folder.rstrip("/\\") + "/",
        "INSTANCE_ID": "2",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": host,
        "HTTP_USER_AGENT": "Mozilla/5.0 (FastCGI test client)",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml",
        "HTTP_ACCEPT_LANGUAGE": "en",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        params[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return params
