"""The comparison page: hand-written static assets and the router that serves them."""

from evaldelta.server.web.router import router

__all__ = ["router"]
