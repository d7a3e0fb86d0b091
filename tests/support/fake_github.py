"""A stand-in for the two GitHub REST endpoints ``evaldelta ci`` calls (list, create and
update a pull request's issue comments), served on 127.0.0.1 so CI never reaches GitHub."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class FakeGitHub:
    url: str
    token: str
    repository: str
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000

    def add(self, number: int, body: str) -> dict[str, Any]:
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "body": body,
            "html_url": f"https://github.example/{self.repository}/pull/{number}"
            f"#issuecomment-{self.next_id}",
        }
        self.comments.setdefault(number, []).append(comment)
        return comment


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            return None

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            fake.requests.append((method, self.path))
            if self.headers.get("authorization") != f"Bearer {fake.token}":
                return self._send(401, {"message": "Bad credentials"})
            body = None
            if method in ("POST", "PATCH"):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length))
            if (m := LIST.match(url.path)) and m.group(1) == fake.repository:
                number = int(m.group(2))
                if method == "GET":
                    query = parse_qs(url.query)
                    per_page = int(query.get("per_page", ["30"])[0])
                    page = int(query.get("page", ["1"])[0])
                    found = fake.comments.get(number, [])
                    return self._send(200, found[(page - 1) * per_page : page * per_page])
                if method == "POST" and body is not None:
                    return self._send(201, fake.add(number, body["body"]))
            if (m := ONE.match(url.path)) and method == "PATCH" and body is not None:
                for comments in fake.comments.values():
                    for comment in comments:
                        if comment["id"] == int(m.group(2)):
                            comment["body"] = body["body"]
                            return self._send(200, comment)
            return self._send(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    return Handler


@contextmanager
def fake_github(token: str, repository: str) -> Iterator[FakeGitHub]:
    """A running fake of GitHub's issue-comment endpoints for one repository."""
    fake = FakeGitHub("", token, repository)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
