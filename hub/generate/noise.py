"""Text distortions that departmental records really show: misheard names, traditional characters,
full-width digits, phone layouts, date layouts, and identifiers typed wrong.

Each function takes the clean value and the generator's `random.Random`, never the global one, so the
same seed gives the same distortions.
"""

from __future__ import annotations

import random
from functools import lru_cache

import opencc

from hub.generate.pools import HOMOPHONES
from hub.normalize.identifiers import resident_id_check_char

__all__ = [
    "DATE_STYLES",
    "chinese_number",
    "format_date",
    "full_width",
    "malform_resident_id",
    "malform_uscc",
    "misheard",
    "old_resident_id",
    "scatter_phone",
    "traditional",
]

_FULL_WIDTH = str.maketrans("0123456789-()", "０１２３４５６７８９－（）")
_DIGITS = "零一二三四五六七八九"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DATE_STYLES = ("iso", "compact", "slash", "chinese")


def full_width(text: str) -> str:
    """Turn ASCII digits, dashes and brackets into their full-width forms: "3-2" -> "３－２"."""
    return text.translate(_FULL_WIDTH)


def chinese_number(number: int) -> str:
    """Write a building or house number as spoken: 3 -> "三", 12 -> "十二", 21 -> "二十一"."""
    if number < 10:
        return _DIGITS[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        head = "十" if tens == 1 else _DIGITS[tens] + "十"
        return head + (_DIGITS[ones] if ones else "")
    return str(number)  # nobody says house number 128 in words; it stays digits


def misheard(name: str, rng: random.Random) -> str:
    """Replace one character with a homophone, as a name heard at the door: "王伟" -> "王玮"."""
    positions = [i for i, char in enumerate(name) if char in HOMOPHONES]
    if not positions:
        return name
    position = rng.choice(positions)
    return name[:position] + rng.choice(HOMOPHONES[name[position]]) + name[position + 1 :]


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


@lru_cache(maxsize=65536)
def traditional(text: str) -> str:
    """Write text in traditional characters, as some older clerks and Hong Kong keyboards do."""
    return str(_converter().convert(text))


def format_date(birth: str, style: str) -> str:
    """Lay out a yyyymmdd date in one of DATE_STYLES: "19850302" -> "1985/3/2"."""
    if style == "iso":
        return f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"
    if style == "compact":
        return birth
    if style == "slash":
        return f"{birth[:4]}/{int(birth[4:6])}/{int(birth[6:])}"
    return f"{birth[:4]}年{int(birth[4:6])}月{int(birth[6:])}日"


def scatter_phone(phone: str, rng: random.Random) -> str:
    """Lay a phone number out the way people type it: "+86 139 1234 5678", "0512 5278 1234", ..."""
    if phone.startswith("0512-"):
        local = phone[5:]
        choice = rng.randrange(5)
        if choice == 0:
            return local
        if choice == 1:
            return f"(0512){local}"
        if choice == 2:
            return f"0512 {local[:4]} {local[4:]}"
        if choice == 3:
            return full_width(phone)
        return "0512" + local
    choice = rng.randrange(6)
    if choice == 0:
        return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    if choice == 1:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    if choice == 2:
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    if choice == 3:
        return full_width(phone)
    if choice == 4:
        return "86" + phone
    return f"+86-{phone}"


def old_resident_id(id_number: str) -> str:
    """Write an 18-digit resident ID of someone born in the 1900s in its old 15-digit form."""
    return id_number[:6] + id_number[8:17]


def malform_resident_id(id_number: str, rng: random.Random) -> str:
    """Damage a valid resident ID the ways clerks do: wrong check digit, 17 digits, a letter, a swap."""
    kind = rng.randrange(4)
    if kind == 0:
        right = resident_id_check_char(id_number[:17])
        wrong = rng.choice([c for c in "0123456789X" if c != right])
        return id_number[:17] + wrong
    if kind == 1:
        return id_number[:17]
    if kind == 2:
        position = rng.randrange(14, 17)
        return id_number[:position] + rng.choice("OlI") + id_number[position + 1 :]
    for _ in range(8):
        position = rng.randrange(14, 16)
        if id_number[position] != id_number[position + 1]:
            swapped = id_number[position + 1] + id_number[position]
            return id_number[:position] + swapped + id_number[position + 2 :]
    return id_number[:17]


def malform_uscc(uscc: str, rng: random.Random) -> str:
    """Mistype one character of a USCC; GB 32100's check catches every single substitution."""
    position = rng.randrange(2, 18)
    wrong = rng.choice([c for c in _USCC_ALPHABET if c != uscc[position]])
    return uscc[:position] + wrong + uscc[position + 1 :]
