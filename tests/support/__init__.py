"""Helpers the tests share: request bodies built as the SDK builds them, seeded worlds and
their reference answers, the SSE reader, how an over-long API key is refused, and
``evaldelta`` run as a user runs it.

Test files stay flat in ``tests/``; fixtures live in ``tests/conftest.py``.
"""
