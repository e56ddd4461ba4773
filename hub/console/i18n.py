"""The console's one catalogue of strings, in Chinese (zh-CN, the default) and English.

The catalogue is the TOML files of `hub/console/strings/`, one per area of the console, read once and
merged: each key names a string and gives it in both languages,

    [queue.title]
    zh = "待审队列"
    en = "Review queue"

A key in two files, or without one of the languages, is an error when the console loads, so a page
never shows a key instead of words. Templates call `t("queue.title")`; `{name}` placeholders are
filled from keyword arguments.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "catalogue", "translate"]

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and set(value) <= set(LANGUAGES) and value:
            missing = set(LANGUAGES) - set(value)
            if missing:
                raise ValueError(f"console string {key!r} has no {', '.join(sorted(missing))}")
            out[key] = {lang: str(text) for lang, text in value.items()}
        elif isinstance(value, dict):
            out.update(_flatten(value, f"{key}."))
        else:
            raise ValueError(f"console string {key!r}: give it as a table with zh and en")
    return out


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every key of every strings file, with its text in each language."""
    merged: dict[str, dict[str, str]] = {}
    folder = resources.files("hub.console") / "strings"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        for key, texts in _flatten(tomllib.loads(entry.read_text(encoding="utf-8"))).items():
            if key in merged:
                raise ValueError(f"console string {key!r} is defined twice (again in {entry.name})")
            merged[key] = texts
    return merged


def translate(language: str, key: str, **values: Any) -> str:
    """The text of `key` in `language` with `{name}` placeholders filled; an unknown key raises KeyError
    (a template naming a string that does not exist is a bug, and the tests render every page)."""
    text = catalogue()[key][language if language in LANGUAGES else DEFAULT_LANGUAGE]
    return text.format(**values) if values else text
