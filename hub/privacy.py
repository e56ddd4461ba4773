"""Masking of personal information (PIPL): resident ID numbers, phones and exact birth dates.

A caller without the right to see personal data gets these masked forms everywhere; the API decides
who may see them whole (issue: clients and scopes) and logs every such read.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PERSONAL_FEATURES",
    "mask_birth_date",
    "mask_features",
    "mask_id_number",
    "mask_phone",
    "mask_value",
]

# Feature names (at any depth) whose values are personal information.
PERSONAL_FEATURES = {
    "id_number": "id_number",
    "legal_representative_id_number": "id_number",
    "phone": "phone",
    "birth_date": "birth_date",
    "id_birth_date": "birth_date",
}


def mask_id_number(value: str) -> str:
    """Keep the region and the last four characters: "32058119850302123X" -> "320581********123X"."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits: "13912345678" -> "139****5678"."""
    digits = value.replace("-", "")
    if len(digits) <= 7:
        return "*" * len(value)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_birth_date(value: str) -> str:
    """Keep the year only: "1985-03-02" -> "1985-**-**"."""
    return value[:4] + "-**-**" if len(value) >= 4 else "*" * len(value)


_MASKS = {"id_number": mask_id_number, "phone": mask_phone, "birth_date": mask_birth_date}


def mask_value(attribute: str, value: str) -> str:
    """`value` of a golden attribute (`id_number`, `phone`, `birth_date`, ...), masked if personal."""
    mask = _MASKS.get(attribute)
    return mask(value) if mask is not None else value


def mask_features(features: Any) -> Any:
    """Return `features` (a JSON-like value) with every personal value masked, at any depth."""
    if isinstance(features, dict):
        masked: dict[str, Any] = {}
        for name, value in features.items():
            kind = PERSONAL_FEATURES.get(name)
            if kind is not None and isinstance(value, str):
                masked[name] = _MASKS[kind](value)
            else:
                masked[name] = mask_features(value)
        return masked
    if isinstance(features, list):
        return [mask_features(value) for value in features]
    return features
