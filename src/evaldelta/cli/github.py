"""The two GitHub REST calls ``evaldelta ci`` makes: find its pull-request comment by a
hidden marker, then update it or create it.  The base URL is configurable (GitHub
Enterprise, or a local stand-in in tests)."""

from __future__ import annotations

from typing import Any

import httpx

from evaldelta.client.http import ApiError

DEFAULT_API = "https://api.github.com"
PER_PAGE = 100


class GitHub:
    """Issue comments of one repository (a pull request is an issue to this API)."""

    def __init__(
        self, token: str, repository: str, base_url: str = DEFAULT_API, timeout: float = 30
    ) -> None:
        if repository.count("/") != 1:
            raise ApiError(f"repository {repository!r}: expected OWNER/NAME")
        self.repository = repository
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "evaldelta-ci",
            },
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise ApiError(f"cannot reach GitHub at {self._http.base_url}: {err}") from err
        if response.status_code >= 400:
            # GitHub's error text, never the request's headers (the token is in them).
            raise ApiError(
                f"GitHub {method} {path}: {response.status_code} {response.text[:300]}",
                response.status_code,
            )
        return response.json() if response.content else None

    def find_comment(self, number: int, marker: str) -> dict[str, Any] | None:
        """The first comment of pull request ``number`` whose body holds ``marker``."""
        page = 1
        while True:
            found = self._call(
                "GET",
                f"/repos/{self.repository}/issues/{number}/comments",
                params={"per_page": PER_PAGE, "page": page},
            )
            for comment in found:
                if marker in (comment.get("body") or ""):
                    return dict(comment)
            if len(found) < PER_PAGE:
                return None
            page += 1

    def upsert_comment(self, number: int, marker: str, body: str) -> tuple[str, dict[str, Any]]:
        """Update the comment holding ``marker``, or create one; ("updated" or "created",
        the comment)."""
        existing = self.find_comment(number, marker)
        if existing is not None:
            path = f"/repos/{self.repository}/issues/comments/{existing['id']}"
            return "updated", dict(self._call("PATCH", path, json={"body": body}))
        path = f"/repos/{self.repository}/issues/{number}/comments"
        return "created", dict(self._call("POST", path, json={"body": body}))
