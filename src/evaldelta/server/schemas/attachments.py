"""Wire shapes of example attachments (LangSmith's ``AttachmentsOperations``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class AttachmentsOperations(BaseModel):
    """What an update does to the attachments an example has: those ``retain`` names
    stay, those ``rename`` names stay under a new name, the others are dropped."""

    model_config = ConfigDict(extra="forbid")

    rename: dict[str, str] = Field(default_factory=dict, max_length=1000)
    retain: list[str] = Field(default_factory=list, max_length=1000)


def _no_run_attachments(names: list[str] | None) -> None:
    if names:
        raise ValueError("run attachments are not kept, so none can be copied to an example")


NoRunAttachments = Annotated[list[str] | None, AfterValidator(_no_run_attachments)]
