"""FastAPI dependencies: the store, the writer and the settings of the running app."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from evaldelta.ingest.writer import Writer
from evaldelta.settings import Settings
from evaldelta.store.base import Store


def _store(request: Request) -> Store:
    return cast(Store, request.app.state.store)


def writer_of(request: Request) -> Writer:
    """The app's single writer; an endpoint that depends on it writes."""
    return cast(Writer, request.app.state.writer)


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


StoreDep = Annotated[Store, Depends(_store)]
WriterDep = Annotated[Writer, Depends(writer_of)]
SettingsDep = Annotated[Settings, Depends(_settings)]
