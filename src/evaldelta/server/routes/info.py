"""``GET /info`` and a health check: the only endpoints without an API key."""

from __future__ import annotations

from fastapi import APIRouter

from evaldelta import __version__
from evaldelta.server.deps import SettingsDep
from evaldelta.server.models import BatchIngestConfig, Info

router = APIRouter(tags=["info"])

# The SDK sends feedback inside /runs/multipart only when the version is >= 0.8.10.
COMPAT_VERSION = "0.12.0"


@router.get("/info", response_model=Info)
def get_info(settings: SettingsDep) -> Info:
    """What the SDK reads once per client: say only what this server really handles."""
    return Info(
        version=COMPAT_VERSION,
        batch_ingest_config=BatchIngestConfig(),
        instance_flags={
            "zstd_compression_enabled": settings.zstd_compression,
            "dataset_examples_multipart_enabled": True,
            "evaldelta_version": __version__,
        },
    )


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
