"""Chinese identifiers: resident ID (GB 11643), USCC (GB 32100), organization code (GB 11714),
phone numbers and dates, each parsed into a canonical form with the reason when it is invalid.

Every parser keeps the original text: an invalid identifier is evidence, never discarded.
"""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from datetime import time as time_of_day
from operator import mul
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Phone",
    "ResidentId",
    "Uscc",
    "fold_text",
    "org_code_check_char",
    "parse_date",
    "parse_phone",
    "parse_resident_id",
    "parse_uscc",
    "resident_id_check_char",
    "uscc_check_char",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_SEPARATORS = re.compile(r"[\s\-‐‑–—_.·/()（）]+")
_MIN_BIRTH_YEAR = 1880


def fold_text(text: str) -> str:
    """Fold full-width forms to ASCII and drop surrounding space: "３２０５" -> "3205"."""
    return unicodedata.normalize("NFKC", text).strip()


def _compact(text: str) -> str:
    if text.isascii() and text.isalnum():  # the common case, ten times faster than the general one
        return text.upper()
    return _SEPARATORS.sub("", fold_text(text)).upper()


_today_cache: tuple[float, date] = (0.0, date.min)


def _today() -> date:
    """Today's date, looked up at most once a minute (normalization calls this per record)."""
    global _today_cache
    now = time.monotonic()
    if now - _today_cache[0] > 60:
        _today_cache = (now, date.today())
    return _today_cache[1]


_ID_ASCII_OFFSET = 48 * sum(_ID_WEIGHTS)  # the digits' ASCII codes minus this give the digits' sum


def resident_id_check_char(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of a resident ID."""
    return _ID_CHECK[(sum(map(mul, first17.encode("ascii"), _ID_WEIGHTS)) - _ID_ASCII_OFFSET) % 11]


def _real_date(yyyymmdd: str, today: date | None = None) -> date | None:
    try:
        born = date.fromisoformat(yyyymmdd)  # the basic ISO form YYYYMMDD, parsed in C
    except ValueError:
        return None
    if born.year < _MIN_BIRTH_YEAR or born > (today or _today()):
        return None
    return born


class ResidentId(NamedTuple):
    """A parsed resident ID; `value` is the canonical 18-character form when it could be built."""

    original: str
    value: str | None
    valid: bool
    reason: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    region: str | None = None
    converted_from_15: bool = False


def parse_resident_id(text: str, today: date | None = None) -> ResidentId:
    """Validate a resident ID and derive its birth date, sex and region.

    "32058119850302123X" -> valid, born 1985-03-02, sex M. Old 15-digit numbers are converted to 18
    digits (the century "19" inserted, the check character computed). Region codes are not checked
    against a gazetteer on purpose: older residents of newer districts are real.
    """
    compact = _compact(text)
    if not compact:
        return ResidentId(text, None, False, "empty")
    converted = False
    if len(compact) == 15:
        if not compact.isdigit():
            return ResidentId(text, compact, False, "15-digit ID must be all digits")
        first17 = compact[:6] + "19" + compact[6:]
        compact = first17 + resident_id_check_char(first17)
        converted = True
    elif len(compact) != 18:
        return ResidentId(text, compact, False, f"length {len(compact)}, expected 18 or 15")
    if not compact[:17].isdigit() or not (compact[17].isdigit() or compact[17] == "X"):
        return ResidentId(text, compact, False, "characters: 17 digits and a digit or X expected")
    born = _real_date(compact[6:14], today)
    if born is None:
        return ResidentId(text, compact, False, "the birth date part is not a real past date")
    expected = resident_id_check_char(compact[:17])
    if compact[17] != expected:
        return ResidentId(
            text,
            compact,
            False,
            f"check digit {compact[17]}, expected {expected}",
            birth_date=born,
        )
    sex = "M" if int(compact[16]) % 2 == 1 else "F"
    return ResidentId(text, compact, True, None, born, sex, compact[:6], converted)


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a USCC."""
    total = sum(map(mul, map(_USCC_VALUE.__getitem__, first17), _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _org_char_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - 55


def org_code_check_char(first8: str) -> str:
    """Return the GB 11714 check character for the 8-character body of an organization code."""
    total = sum(_org_char_value(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "0" if check == 11 else "X" if check == 10 else str(check)


class Uscc(NamedTuple):
    """A parsed unified social credit code; `org_code` is the embedded GB 11714 code."""

    original: str
    value: str | None
    valid: bool
    reason: str | None = None
    org_code: str | None = None
    region: str | None = None


def parse_uscc(text: str) -> Uscc:
    """Validate a USCC and its embedded organization code: "91320581MA1XXXXXXX"."""
    compact = _compact(text)
    if not compact:
        return Uscc(text, None, False, "empty")
    if len(compact) == 15 and compact[:6].isdigit() and all(c in _USCC_VALUE for c in compact[6:]):
        # The tax registration number before credit codes: region and organization code, which the
        # credit code still carries; the organization code identifies the company when its check holds.
        org = compact[6:]
        org_code = org if org_code_check_char(org[:8]) == org[8] else None
        return Uscc(
            text, compact, False, "an old 15-character tax number, not a credit code", org_code, compact[:6]
        )
    if len(compact) != 18:
        return Uscc(text, compact, False, f"length {len(compact)}, expected 18")
    bad = sorted({c for c in compact if c not in _USCC_VALUE})
    if bad:
        return Uscc(text, compact, False, f"characters not allowed: {''.join(bad)}")
    expected = uscc_check_char(compact[:17])
    if compact[17] != expected:
        return Uscc(text, compact, False, f"check character {compact[17]}, expected {expected}")
    org_code = compact[8:17]
    org_expected = org_code_check_char(org_code[:8])
    if org_code[8] != org_expected:
        return Uscc(
            text,
            compact,
            False,
            f"organization code check {org_code[8]}, expected {org_expected}",
            org_code,
        )
    return Uscc(text, compact, True, None, org_code, compact[2:8])


class Phone(NamedTuple):
    """A parsed phone number: mobile as 11 digits, landline as "0512-52781234"."""

    original: str
    value: str | None
    valid: bool
    kind: str | None = None  # "mobile" | "landline"
    reason: str | None = None


_MOBILE = re.compile(r"1[3-9]\d{9}")
_AREA_CODE = re.compile(r"0(?:10|2\d|[3-9]\d{2})")


def parse_phone(text: str, local_area_code: str = "0512") -> Phone:
    """Parse a phone number: "+86 139-1234-5678" -> "13912345678", "52781234" -> "0512-52781234"."""
    if len(text) == 11 and text.isascii() and _MOBILE.fullmatch(text):  # the common case
        return Phone(text, text, True, "mobile")
    digits = _compact(text).replace("+", "")
    if not digits:
        return Phone(text, None, False, None, "empty")
    if not digits.isdigit():
        return Phone(text, digits, False, None, "characters: digits expected")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (11, 10, 12):
            rest = digits[len(prefix) :]
            if _MOBILE.fullmatch(rest) or (rest[0] != "0" and len(rest) in (10, 11)):
                digits = rest
                break
    if _MOBILE.fullmatch(digits):
        return Phone(text, digits, True, "mobile")
    if digits[0] != "0" and len(digits) in (10, 11) and _AREA_CODE.match("0" + digits):
        digits = "0" + digits  # international form drops the trunk zero: 86 512 ...
    if digits[0] == "0":
        area = _AREA_CODE.match(digits)
        if area and 7 <= len(digits) - area.end() <= 8:
            return Phone(text, f"{area.group()}-{digits[area.end() :]}", True, "landline")
        return Phone(text, digits, False, None, "landline: area code and 7-8 digits expected")
    if len(digits) in (7, 8):
        return Phone(text, f"{local_area_code}-{digits}", True, "landline")
    return Phone(text, digits, False, None, f"{len(digits)} digits is neither mobile nor landline")


_DATE_FORMS = (
    re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
    re.compile(r"(\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
)
# A time of day after the date, as database and spreadsheet exports write a date column:
# "1949-12-31 00:00:00", "1949-12-31T00:00:00.000", "1990/3/7 0:00", "1990-03-06T16:00:00Z",
# "1985-03-02 00:00:00+08" (PostgreSQL's own text).
_TIME_OF_DAY = re.compile(
    r"(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
# ... and in Chinese, as systems with Chinese date formats write it: "1985年03月02日 00时00分00秒",
# "1985年3月2日8点", "1985-03-02 下午3:30" (a period of the day, then the hour of a 12-hour clock).
_SPOKEN_TIME = re.compile(
    r"\s*(上午|下午|凌晨|早上|中午|晚上)?\s*(\d{1,2})\s*"
    r"(?:[时点]\s*(?:(\d{1,2})\s*分\s*(?:(\d{1,2})\s*秒)?)?|:(\d{2})(?::(\d{2}))?)$"
)
# Java's `Date.toString()`, as Java systems export a date column: "Sat Mar 02 00:00:00 CST 1985", its
# zone the JVM's (CST, China Standard Time, on a server in China; GMT+08:00 where it has no name).
_JAVA_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{2}) "
    r"(\d{2}):(\d{2}):(\d{2}) (CST|UTC|GMT(?:[+-]\d{2}:\d{2})?) (\d{4})"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
try:
    # the day a moment was in China, with the summer time of 1940-49 and 1986-91 (UTC+9)
    _CHINA: tzinfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # a machine without the time-zone database: China's standard time
    _CHINA = timezone(timedelta(hours=8))


def _zone(text: str | None) -> tzinfo | None:
    """The fixed zone an offset names ("Z", "+08:00", "+0800", "+08"); None without one. Raises
    ValueError for an offset no place has (past 14 hours, or 60 minutes and more)."""
    if text is None:
        return None
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(f"no place is {text} from UTC")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(offset if text[0] == "+" else -offset)


def _spoken_time_of_day(match: re.Match[str]) -> bool:
    """Whether a `_SPOKEN_TIME` match is a time of day: an hour of 0-23, or 0-12 after a period of the
    day (上午, 下午, ...), and minutes and seconds of 0-59."""
    period, hour, minute, second, clock_minute, clock_second = match.groups()
    if int(hour) > (12 if period else 23):
        return False
    return all(int(part) <= 59 for part in (minute, second, clock_minute, clock_second) if part is not None)


def parse_date(text: str, today: date | None = None) -> date | None:
    """Parse a calendar date in the forms records use; None when invalid or ambiguous.

    "1985-03-02", "19850302", "1985/3/2", "1985年3月2日" and "85.3.2" all give 1985-03-02. A two-digit
    year is accepted only when exactly one of 19yy and 20yy is not in the future. A time of day after
    the date is dropped ("1985-03-02 00:00:00", "19850302000000"); one with a zone gives the day it
    was in China, summer time included ("1985-03-01T16:00:00Z" is 1985-03-02, and so is
    "1988-06-14T15:00:00Z" for 1988-06-15), and an hour past 23 or an offset past 14 hours makes it
    no date. A time written in Chinese is dropped the same way ("1985年3月2日 0时0分0秒",
    "1985-03-02 下午3:30"), and Java's `Date.toString()` is read ("Sat Mar 02 00:00:00 CST 1985").
    """
    today = today or _today()
    if len(text) == 10 and text[4] == "-" and text.isascii():  # ISO, the common case
        try:
            iso = date.fromisoformat(text)
            return iso
        except ValueError:
            pass
    folded = fold_text(text)
    if folded[:1] in ("M", "T", "W", "F", "S") and (java := _JAVA_DATE.fullmatch(folded)):
        month, day, hour, minute, second, zone, year = java.groups()
        folded = f"{year}-{_MONTHS.index(month) + 1:02d}-{day}"
        if zone != "CST":  # UTC or GMT with an offset: the day it was in China, below (CST: as written)
            folded += f"T{hour}:{minute}:{second}{'Z' if zone in ('UTC', 'GMT') else zone[3:]}"
    if len(folded) == 14 and folded.isdigit():  # 19850302000000, as many systems stamp a moment
        folded = f"{folded[:8]} {folded[8:10]}:{folded[10:12]}:{folded[12:]}"
    spoken = (
        _SPOKEN_TIME.search(folded)
        if not folded.isascii() and ("时" in folded or "点" in folded or ":" in folded)
        else None
    )
    clock = _TIME_OF_DAY.search(folded) if ":" in folded and spoken is None else None
    moment: time_of_day | None = None
    if spoken is not None:
        if not _spoken_time_of_day(spoken):  # 25时, 10时61分, 下午15点
            return None
        folded = folded[: spoken.start()]  # no zone: the date is the one written
    elif clock and clock.end() == len(folded):
        hour, minute, second, zone = clock.groups()
        try:
            moment = time_of_day(int(hour), int(minute), int(second or 0), tzinfo=_zone(zone))
        except ValueError:  # 24:00, 10:61, +99:99
            return None
        folded = folded[: clock.start()]
    folded = folded.replace(" ", "")
    for form in _DATE_FORMS:
        match = form.fullmatch(folded)
        if not match:
            continue
        year_text, month, day = match.groups()
        years = [int(year_text)] if len(year_text) == 4 else [1900 + int(year_text), 2000 + int(year_text)]
        candidates = []
        for year in years:
            try:
                candidate = date(year, int(month), int(day))
            except ValueError:
                continue
            if candidate <= today or len(years) == 1:
                candidates.append(candidate)
        if len(candidates) != 1:
            return None
        if moment is None or moment.tzinfo is None:
            return candidates[0]  # a time without a zone is China's: the date is the one written
        try:  # the day it was in China: a Beijing midnight exported in UTC reads 16:00 the day before
            return datetime.combine(candidates[0], moment).astimezone(_CHINA).date()
        except (OverflowError, ValueError):  # past year 9999 or before year 1
            return None
    return None
