"""evaldelta: a self-hostable evaluation store that speaks the LangSmith REST API."""

__version__ = "0.1.0"
