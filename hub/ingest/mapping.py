"""Column mappings: a department's headers, codes and date formats onto the contract's fields (pure).

Exports are made for people, not for the hub: headers in Chinese (姓名, 公民身份号码), codes
(性别 1/2), dates as 1998年08月05日. Common Chinese headers of the contract's fields are recognised
without any configuration (`BUILTIN_HEADERS`); a source's own mapping, a small TOML file stored
with the source and versioned (`hub sources map`), adds to and overrides them:

    [columns]                       # header = field, or [fields] to copy one column to several
    "人员编号" = "key"
    "证件号" = ["id_number"]
    [values.gender]                 # per field: the source's code = the value to store
    "1" = "男"
    "2" = "女"
    [dates]                         # per field: strptime formats tried in order; stored as YYYY-MM-DD
    birth_date = ["%Y年%m月%d日", "%Y%m%d"]

A mapped record is stored under the contract's names; headers no mapping names stay verbatim, as any
extra field does. The raw text a quarantined row keeps is always the file's own.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.contract import KIND_FIELDS
from hub.domain import Kind
from hub.errors import InputError
from hub.ingest.readers import RawRow

__all__ = ["BUILTIN_HEADERS", "ColumnMapping", "MappingError", "RowMapper", "parse_mapping"]

KEY = "key"
FIELDS = frozenset({KEY, *(name for fields in KIND_FIELDS.values() for name in fields)})

_KEY_HEADERS = ("编号", "记录编号", "唯一标识", "主键", "业务编号")
_PERSON = {
    "name": ("姓名",),
    "id_number": ("公民身份号码", "身份证号", "身份证号码", "居民身份证号码", "证件号码", "身份证"),
    "gender": ("性别",),
    "birth_date": ("出生日期", "出生年月日", "生日"),
    "phone": ("联系电话", "手机号", "手机号码", "电话", "电话号码", "联系方式"),
    "address": ("地址", "住址", "现住址", "居住地址", "现居住地址", "实际居住地址", "居住地"),
    "registered_address": ("户籍地址", "户籍地", "户籍所在地", "户籍住址", "户口所在地"),
    "employer_name": ("工作单位", "服务处所", "就业单位"),
    "employer_uscc": ("工作单位统一社会信用代码", "单位统一社会信用代码"),
}
_ADDRESS = {
    "address": ("地址", "详细地址", "标准地址", "门牌地址", "房屋地址"),
    "doorplate_code": ("门牌编码", "门牌码", "二维码门牌编号", "门牌二维码编号", "数字门牌编码"),
    "grid_code": ("网格编码", "网格编号", "网格代码", "所属网格编码"),
    "house_type": ("房屋类型", "房屋性质", "房屋用途"),
    "label": ("标签", "五色标签", "房屋标签"),
}
_LEGAL_ENTITY = {
    "name": ("单位名称", "企业名称", "名称", "机构名称", "主体名称", "市场主体名称"),
    "uscc": ("统一社会信用代码", "信用代码", "社会信用代码"),
    "legal_representative": ("法定代表人", "法定代表人姓名", "法人代表", "法人", "负责人"),
    "legal_representative_id_number": (
        "法定代表人身份证号",
        "法定代表人身份证号码",
        "法定代表人证件号码",
        "法人身份证号",
        "法人代表身份证号",
    ),
    "registered_address": ("注册地址", "住所", "登记地址", "地址"),
    "business_address": ("经营地址", "经营场所", "实际经营地址", "生产经营地址"),
    "established_on": ("成立日期", "注册日期", "设立日期"),
    "phone": ("联系电话", "电话", "联系方式"),
    "status": ("登记状态", "经营状态", "状态"),
}


def _by_header(fields: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    headers: dict[str, tuple[str, ...]] = {header: (KEY,) for header in _KEY_HEADERS}
    headers.update({header: (name,) for name, names in fields.items() for header in names})
    return headers


BUILTIN_HEADERS: dict[Kind, dict[str, tuple[str, ...]]] = {
    Kind.PERSON: _by_header(_PERSON),
    Kind.ADDRESS: _by_header(_ADDRESS),
    Kind.LEGAL_ENTITY: _by_header(_LEGAL_ENTITY),
}
_SPACES = re.compile(r"[\s\u3000]+")
_MAX_CACHED_HEADERS = 4096


def _header_key(header: str) -> str:
    """A header as the built-ins are looked up: no spaces, full-width brackets as ASCII, lower case."""
    return _SPACES.sub("", header).replace("（", "(").replace("）", ")").lower()


class MappingError(InputError):
    """A mapping file that cannot be used; the message names the file, the line and the key."""


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A source's mapping: headers to fields, value codes per field, date formats per field."""

    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    dates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    version: int | None = None  # the stored version this is, if stored


def _line_of(text: str, key: str) -> int | None:
    """The first line that sets `key` (bare or quoted) or opens a table named by it ([key], [values.key])."""
    assignment = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if assignment.match(line):
            return number
        if stripped.startswith("[") and "]" in stripped:
            parts = stripped.strip("[").split("]")[0].split(".")
            if key in (part.strip().strip("\"'") for part in parts):
                return number
    return None


def _fail(name: str, text: str, key: str, message: str) -> MappingError:
    line = _line_of(text, key)
    where = f"{name}, line {line}" if line is not None else name
    return MappingError(f"{where}: {message}")


def _unknown_field(field_name: str) -> str:
    return f"unknown field {field_name!r}; the fields are: {', '.join(sorted(FIELDS))}"


def parse_mapping(text: str, name: str = "mapping", version: int | None = None) -> ColumnMapping:
    """Read a mapping file's text; raises MappingError naming the line and key of the first mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{name}: not valid TOML: {exc}") from exc
    for table in data:
        if table not in ("columns", "values", "dates"):
            raise _fail(
                name, text, table, f"unknown key {table!r}; a mapping has [columns], [values.FIELD], [dates]"
            )
    columns: dict[str, tuple[str, ...]] = {}
    for header, target in _table(data, "columns", name, text).items():
        targets = (target,) if isinstance(target, str) else target
        if (
            not isinstance(targets, list | tuple)
            or not targets
            or not all(isinstance(t, str) for t in targets)
        ):
            raise _fail(name, text, header, f"column {header!r}: expected a field name or a list of them")
        for target_field in targets:
            if target_field not in FIELDS:
                raise _fail(name, text, header, f"column {header!r}: {_unknown_field(target_field)}")
        columns[header.strip()] = tuple(targets)
    values: dict[str, dict[str, str]] = {}
    for field_name, codes in _table(data, "values", name, text).items():
        if field_name not in FIELDS:
            raise _fail(name, text, field_name, f"[values.{field_name}]: {_unknown_field(field_name)}")
        if not isinstance(codes, dict):
            raise _fail(name, text, field_name, f"values.{field_name}: expected a table of code = value")
        for code, value in codes.items():
            if not isinstance(value, str | int):
                raise _fail(name, text, code, f"values.{field_name}.{code}: expected text, got {value!r}")
        values[field_name] = {code.strip(): str(value) for code, value in codes.items()}
    dates: dict[str, tuple[str, ...]] = {}
    for field_name, formats in _table(data, "dates", name, text).items():
        if field_name not in FIELDS:
            raise _fail(name, text, field_name, f"dates: {_unknown_field(field_name)}")
        listed = [formats] if isinstance(formats, str) else formats
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(f, str) and "%" in f for f in listed)
        ):
            raise _fail(
                name,
                text,
                field_name,
                f'dates.{field_name}: expected strptime formats such as "%Y年%m月%d日"',
            )
        dates[field_name] = tuple(listed)
    return ColumnMapping(columns, values, dates, version)


def _table(data: dict[str, Any], key: str, name: str, text: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise _fail(name, text, key, f"{key!r} must be a table ([{key}])")
    return table


def _as_date(value: str, formats: tuple[str, ...]) -> str | None:
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


class RowMapper:
    """Applies the built-in headers of a kind and a source's mapping (which wins) to parsed rows."""

    def __init__(self, kind: Kind, mapping: ColumnMapping | None = None) -> None:
        self.mapping = mapping or ColumnMapping()
        self._builtin = BUILTIN_HEADERS[kind]
        self._renames: dict[str, tuple[str, ...] | None] = {}  # header -> fields; None: kept as is
        # the headers of a record, in order -> those renamed and their fields: a file's records mostly
        # share one set of headers, so a record's take one lookup instead of one per header
        self._renamed: dict[tuple[str, ...], list[tuple[str, tuple[str, ...]]]] = {}

    def _fields(self, header: str) -> tuple[str, ...] | None:
        found = self._renames.get(header, ())
        if found != ():
            return found
        fields = self.mapping.columns.get(header.strip())
        if fields is None and header not in FIELDS:
            fields = self._builtin.get(_header_key(header))
        if len(self._renames) < _MAX_CACHED_HEADERS:  # JSON records may bring any keys at all
            self._renames[header] = fields
        return fields

    def record(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record under the contract's names, its codes and dates mapped; None if nothing changed."""
        mapping = self.mapping
        headers = tuple(record)
        renamed = self._renamed.get(headers)
        if renamed is None:
            renamed = [(header, fields) for header in headers if (fields := self._fields(header)) is not None]
            if len(self._renamed) < _MAX_CACHED_HEADERS:
                self._renamed[headers] = renamed
        if not renamed and not mapping.values and not mapping.dates:
            return None
        out = dict(record)
        for header, fields in renamed:
            value = out.pop(header)
            for target in fields:
                if out.get(target) in (None, ""):
                    out[target] = value
                else:  # the field has a value already (its own column, or an earlier header's)
                    out[header] = value
        for target, codes in mapping.values.items():
            value = out.get(target)
            if isinstance(value, int) and not isinstance(value, bool):  # a JSON number: 1 as "1"
                value = str(value)
            if isinstance(value, str) and value.strip() in codes:
                out[target] = codes[value.strip()]
        for target, formats in mapping.dates.items():
            value = out.get(target)
            if isinstance(value, str) and value.strip() and (as_date := _as_date(value.strip(), formats)):
                out[target] = as_date
        return None if out == record else out

    def row(self, row: RawRow) -> RawRow:
        """A read row with its record mapped; the raw text stays the file's own."""
        if row.error is None and isinstance(row.value, dict):
            mapped = self.record(row.value)
            if mapped is not None:
                return RawRow(row.line, row.text, value=mapped)
        return row
