"""Categories added to or removed from a categorical feedback config, as the SDK's
``add_feedback_categories`` and ``remove_feedback_categories`` ask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaldelta.errors import Invalid


def changed_categories(
    config: dict[str, Any], add: Sequence[dict[str, Any]], remove: Sequence[float]
) -> dict[str, Any]:
    """``config`` with ``add`` appended and the categories of values ``remove`` left out.

    A 422 if the config is not categorical, an added value or label is already there, a
    removed value is not, or fewer than two categories would remain."""
    if config.get("type") != "categorical":
        raise Invalid(
            "categories can be changed only on a categorical config", loc=["body", "feedback_key"]
        )
    categories = list(config.get("categories") or [])
    for category in add:
        for other in categories:
            if other.get("value") == category["value"] or (
                category.get("label") is not None and other.get("label") == category["label"]
            ):
                raise Invalid(
                    f"category {category} clashes with {other}", loc=["body", "add_categories"]
                )
        categories.append({k: v for k, v in category.items() if v is not None})
    values = {c.get("value") for c in categories}
    for value in remove:
        if value not in values:
            raise Invalid(f"no category has value {value}", loc=["body", "remove_categories"])
    kept = [c for c in categories if c.get("value") not in set(remove)]
    if remove and len(kept) < 2:
        raise Invalid(
            "a categorical config keeps two categories", loc=["body", "remove_categories"]
        )
    return {**config, "categories": kept}
