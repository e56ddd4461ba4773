"""Masking of personal information (PIPL): resident ID numbers, phones and exact birth dates.

A value is personal by what its field means, never by the type of the value: the personal fields of
each kind are listed once here (`PERSONAL_FIELDS`), and a field of a source payload or of normalized
features is personal when its name, in any common spelling (`NAME_VARIANTS`), says it holds an ID
number, a phone or a birth date. Everything under such a name is masked, at any depth and whatever its
JSON type. A caller without the right to see personal data gets these masked forms everywhere; the
API decides who may see them whole and logs every such read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from hub.domain import Kind

__all__ = [
    "BIRTH_DATE",
    "ID_NUMBER",
    "MASKS",
    "NAME_VARIANTS",
    "PERSONAL_FIELDS",
    "PHONE",
    "QUALIFIERS",
    "api_name",
    "field_meaning",
    "mask_as",
    "mask_attribute",
    "mask_birth_date",
    "mask_embedded",
    "mask_features",
    "mask_free_text",
    "mask_id_number",
    "mask_phone",
    "mask_reason",
    "personal_attribute",
]

# What a personal field means; each meaning has one mask.
ID_NUMBER = "id_number"
PHONE = "phone"
BIRTH_DATE = "birth_date"

# The personal fields of each kind, by the names the contract (docs/contract.md §1) and golden values use,
# and what each means. Everything else is derived from this and `NAME_VARIANTS`: which golden fields
# the API masks and notes, and which payload and feature names are personal (a test checks that the
# kinds' contract and golden fields named like a personal field are exactly these).
PERSONAL_FIELDS: dict[Kind, dict[str, str]] = {
    Kind.PERSON: {"id_number": ID_NUMBER, "birth_date": BIRTH_DATE, "phone": PHONE},
    Kind.ADDRESS: {},
    Kind.LEGAL_ENTITY: {"phone": PHONE, "legal_representative_id_number": ID_NUMBER},
}

# The names source systems give these fields, compared after lower-casing and dropping separators
# (`idNumber`, `ID_NUMBER`, `id-number` are all "idnumber"). A field name means one of these when its
# last words spell a variant (`legal_rep_id_number`, `contact_phone`, `id_birth_date`), also in the
# plural (`phones`) or with a number or a qualifier after it (`phone2`, `phone_raw`, `mobile_home`;
# `QUALIFIERS`); a Chinese name when it ends with one of the Chinese variants (`紧急联系人电话`).
NAME_VARIANTS: dict[str, tuple[str, ...]] = {
    ID_NUMBER: (
        "idnumber", "idno", "idnum", "idcard", "idcardno", "idcardnum", "idcardnumber",
        "identitycard", "identitycardno", "identitycardnumber", "identityno", "identitynumber",
        "residentid", "residentidno", "residentidnumber", "citizenid", "nationalid",
        "nationalidnumber", "sfz", "sfzh", "sfzhm", "zjhm", "zjh", "gmsfhm", "certno", "certificateno",
        "身份证", "身份证号", "身份证号码", "公民身份号码", "证件号码", "证件号",
    ),
    PHONE: (
        "phone", "phoneno", "phonenum", "phonenumber", "telephone", "telephoneno", "telephonenumber",
        "tel", "telno", "telnum", "mobile", "mobileno", "mobilenum", "mobilenumber", "mobilephone",
        "cellphone", "cellphoneno", "cellphonenumber", "handphone", "sjh", "sjhm", "lxdh", "lxfs",
        "fax", "faxno", "faxnumber",
        "电话", "手机", "手机号", "手机号码", "电话号码", "联系方式", "传真",
    ),
    BIRTH_DATE: (
        "birthdate", "birthday", "dob", "dateofbirth", "birthdt", "csrq",
        "出生日期", "生日", "出生年月", "出生年月日",
    ),
}  # fmt: skip
QUALIFIERS = frozenset(
    {"raw", "orig", "original", "text", "str", "string", "value", "val", "old", "new", "prev", "previous",
     "current", "main", "primary", "secondary", "alt", "other", "home", "work", "office", "list", "info"}
)  # fmt: skip


def mask_id_number(value: str) -> str:
    """Keep the region and the last four characters: "32058119850302123X" -> "320581********123X".

    Read as its letters and digits (spaces, dashes, labels and full-width forms dropped); fewer than 15
    of them is not a resident ID that can be masked safely, and is masked whole.
    """
    compact = "".join(
        c for c in unicodedata.normalize("NFKC", value) if c == "*" or (c.isascii() and c.isalnum())
    )
    if len(compact) < 15:
        return "*" * len(compact or value)
    return compact[:6] + "*" * (len(compact) - 10) + compact[-4:]


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits: "+86 139-1234-5678" -> "139****5678".

    Read as its digits (a +86 or 0086 country code dropped); fewer than 11 digits (a local number
    without its area code) would show nearly all of it, and is masked whole.
    """
    digits = "".join(c for c in unicodedata.normalize("NFKC", value) if c == "*" or c in "0123456789")
    for code in ("0086", "86"):
        if digits.startswith(code) and 10 <= len(digits) - len(code) <= 12:
            digits = digits[len(code) :]
            break
    if len(digits) < 11:
        return "*" * len(digits or value)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


_RUN = re.compile(r"[0-9]+")
# A run of seven or more digits (full-width too), perhaps spaced or dashed, perhaps ending in X: a phone,
# an ID number or a date written without separators, wherever it stands in a text.
_DIGIT_RUN = re.compile(r"[0-9０-９](?:[0-9０-９ \-]{5,}[0-9０-９])(?:[xX])?")


def mask_free_text(text: str) -> str:
    """A raw text (a quarantined row) with every long run of digits masked as an ID number or a phone,
    so a reader without `pii:read` sees where personal values were and none of them."""

    def mask(match: re.Match[str]) -> str:
        run = match.group(0)
        digits = sum(c.isdigit() for c in unicodedata.normalize("NFKC", run))
        return mask_id_number(run) if digits >= 15 else mask_phone(run) if digits >= 11 else "*" * len(run)

    return _DIGIT_RUN.sub(mask, text)


_REASON_CHARACTERS = re.compile(r"[0-9０-９]|(?<![A-Za-z])[Xx](?![A-Za-z])")


def mask_reason(text: str) -> str:
    """Why a personal field was flagged, without what the reason quotes of its value: every digit and
    lone X masked ("check digit 8, expected 5", "born 1993-11-30 by the number" would complete a masked
    ID number)."""
    return _REASON_CHARACTERS.sub("*", text)


def _year(run: str) -> str | None:
    """The year of birth a run of digits holds: itself (1991), or its start or end (19910307, 07031991)."""
    if len(run) == 4:
        candidates = [run]
    elif len(run) == 8:
        candidates = [run[:4], run[4:]]
    else:
        candidates = [run[:4]] if len(run) > 8 else []
    return next((year for year in candidates if 1850 <= int(year) <= 2100), None)


def mask_birth_date(value: str) -> str:
    """Keep the year only: "1985-03-02", "3/7/1985", "1985年3月2日", "19850302" -> "1985-**-**".

    The year is the first run of digits that holds a year of birth (1850–2100); a value without one
    ("85.3.2") is masked whole.
    """
    text = unicodedata.normalize("NFKC", value)
    year = next((y for run in _RUN.findall(text) if (y := _year(run)) is not None), None)
    return f"{year}-**-**" if year is not None else "*" * len(text)


MASKS: dict[str, Callable[[str], str]] = {
    ID_NUMBER: mask_id_number,
    PHONE: mask_phone,
    BIRTH_DATE: mask_birth_date,
}

_VARIANTS = {variant: meaning for meaning, variants in NAME_VARIANTS.items() for variant in variants}
_CHINESE = tuple((variant, meaning) for variant, meaning in _VARIANTS.items() if not variant.isascii())
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\x00-\x7f]+")


@lru_cache(maxsize=4096)
def field_meaning(name: str) -> str | None:
    """What a field named `name` holds if it is personal (`ID_NUMBER`, `PHONE`, `BIRTH_DATE`), else None."""
    words = [word.lower() for word in _WORD.findall(unicodedata.normalize("NFKC", name))]
    while words and (words[-1].isdigit() or words[-1] in QUALIFIERS):
        words.pop()  # phone2, mobile_1, phone_raw
    if not words:
        return None
    if not words[-1].isascii():
        return next((meaning for variant, meaning in _CHINESE if words[-1].endswith(variant)), None)
    for start in range(len(words) - 1, -1, -1):
        joined = "".join(words[start:])
        meaning = _VARIANTS.get(joined) or (_VARIANTS.get(joined[:-1]) if joined.endswith("s") else None)
        if meaning is not None:
            return meaning
    return None


def api_name(name: str) -> str:
    """The GraphQL name of field `name`, as the access log names it: "id_number" -> "idNumber"."""
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def personal_attribute(kind: Kind, attribute: str) -> str | None:
    """What golden field `attribute` of an entity of `kind` means, if it is personal; else None."""
    return PERSONAL_FIELDS.get(kind, {}).get(attribute)


def mask_attribute(kind: Kind, attribute: str, value: str) -> str:
    """`value` of golden field `attribute` of an entity of `kind`, masked if the field is personal."""
    meaning = personal_attribute(kind, attribute)
    return MASKS[meaning](value) if meaning is not None else value


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def mask_as(meaning: str, value: Any) -> Any:
    """`value` (any JSON value) under a field that means `meaning`, masked by that field's mask.

    Text is masked; a number is masked as its digits (and comes back as text); a list has each element
    masked, and an object each value and each key with digits in it (two keys that mask alike stay
    apart); null and booleans say nothing personal and stay.
    """
    if value is None or isinstance(value, bool):
        return value
    mask = MASKS[meaning]
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, int | float):
        return mask(_number_text(value))
    if isinstance(value, list | tuple):
        return [mask_as(meaning, item) for item in value]
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if any(unicodedata.numeric(c, None) is not None for c in name):
                name = mask(name)  # a key can be the value itself: {"13912345678": "home"}
            while name in masked:
                name += "~"
            masked[name] = mask_as(meaning, item)
        return masked
    return mask(str(value))


# What reads as a resident ID number or a mobile phone wherever it stands: a region, a real-looking
# birth date and a check character; a mobile number (perhaps +86, perhaps spaced or dashed).
_EMBEDDED_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_EMBEDDED_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")


def mask_embedded(text: str) -> str:
    """`text` with every ID number and mobile phone in it masked, whatever field it came under (a
    remark, an extra field a department named its own way: `备注: 联系电话139…`)."""
    if len(text) < 11:
        return text
    text = _EMBEDDED_ID.sub(lambda m: mask_id_number(m.group(0)), text)
    return _EMBEDDED_MOBILE.sub(lambda m: mask_phone(m.group(0)), text)


def mask_features(features: Any) -> Any:
    """Return `features` (a JSON-like value) with every value under a personal field name masked, at any
    depth, and every ID number or mobile phone written under another name (`mask_embedded`);
    everything else as it was."""
    if isinstance(features, dict):
        masked: dict[str, Any] = {}
        for name, value in features.items():
            meaning = field_meaning(str(name))
            masked[name] = mask_as(meaning, value) if meaning is not None else mask_features(value)
        return masked
    if isinstance(features, list | tuple):
        return [mask_features(value) for value in features]
    if isinstance(features, str):
        return mask_embedded(features)
    if isinstance(features, int) and not isinstance(features, bool) and features >= 10**10:
        shown = mask_embedded(str(features))
        return features if shown == str(features) else shown
    return features
