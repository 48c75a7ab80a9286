"""Small validators shared by services; each failure is a ValidationError with a code."""

import re
from typing import Any

from kindling.platform.codes import derived
from kindling.platform.errors import ValidationError

SCOPE_KEY = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")


def required_text(value: Any, field: str, max_length: int, code_prefix: str) -> str:
    """A non-blank string of at most ``max_length`` characters, trimmed."""
    if value is None:
        raise ValidationError(f"{field} is required", derived(f"{code_prefix}_REQUIRED"))
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", derived(f"INVALID_{code_prefix}"))
    text = value.strip()
    if not text:
        raise ValidationError(f"{field} is required", derived(f"{code_prefix}_REQUIRED"))
    if len(text) > max_length:
        raise ValidationError(
            f"{field} must be at most {max_length} characters", derived(f"{code_prefix}_TOO_LONG")
        )
    if any(ord(ch) < 0x20 for ch in text):
        raise ValidationError(
            f"{field} contains control characters", derived(f"INVALID_{code_prefix}")
        )
    return text


def optional_text(value: Any, field: str, max_length: int, code_prefix: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return required_text(value, field, max_length, code_prefix)


def optional_bool(value: Any, field: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be true or false", derived(f"INVALID_{field.upper()}"))
    return value
