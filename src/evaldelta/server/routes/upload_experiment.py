"""``POST /datasets/upload-experiment``: an experiment run elsewhere, uploaded whole."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from evaldelta.ingest.experiment_upload import apply_upload, plan_upload
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import WriterDep
from evaldelta.server.schemas.upload import ExperimentUpload, UploadResult

router = APIRouter(tags=["datasets"])


@router.post("/datasets/upload-experiment", response_model=UploadResult)
async def upload_experiment(body: ExperimentUpload, tenant: Tenant, writer: WriterDep) -> Any:
    """Create the experiment, its runs (one per result, linked to the result's example) and
    their feedback, and the dataset and examples an upload may make, in one transaction."""
    # Thousands of rows take a while to check: off the event loop.
    upload = await asyncio.to_thread(lambda: plan_upload(tenant, body.model_dump()))
    dataset, experiment = await writer.call(lambda store: apply_upload(store, upload))
    return {"dataset": dataset, "experiment": experiment}
