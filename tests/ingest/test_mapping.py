"""Column mappings and encoding detection, without a database: headers, codes and dates onto the
contract's fields, and mapping files that cannot be used refused naming the line and key."""

from __future__ import annotations

import pytest

from hub.domain import Kind
from hub.ingest.mapping import ColumnMapping, MappingError, RowMapper, parse_mapping
from hub.ingest.readers import detect_encoding

HOUSEHOLD = """\
[columns]
"人员编号" = "key"
"证件号" = ["id_number", "legal_representative_id_number"]

[values.gender]
"1" = "男"
"2" = "女"

[dates]
birth_date = ["%Y年%m月%d日", "%Y%m%d"]
"""


def test_common_chinese_headers_map_to_the_contract_fields() -> None:
    person = RowMapper(Kind.PERSON).record(
        {
            "编号": "1",
            "姓名": "王伟",
            "公民身份号码": "320581198503021234",
            "手机号": "139",
            "住址": "海虞北路18号",
        }
    )
    assert person == {
        "key": "1", "name": "王伟", "id_number": "320581198503021234", "phone": "139",
        "address": "海虞北路18号",
    }  # fmt: skip
    company = RowMapper(Kind.LEGAL_ENTITY).record(
        {
            "编号": "9",
            "企业名称": "华盛服装",
            "统一社会信用代码": "91320581",
            "法定代表人": "王伟",
            "住所": "常熟",
        }
    )
    assert company == {
        "key": "9", "name": "华盛服装", "uscc": "91320581", "legal_representative": "王伟",
        "registered_address": "常熟",
    }  # fmt: skip


def test_headers_are_recognised_with_spaces_and_unknown_ones_kept_verbatim() -> None:
    record = RowMapper(Kind.ADDRESS).record(
        {" 门牌编码 ": "MP01", "地 址": "泉辛新村16幢", "采集人": "网格员07"}
    )
    assert record == {"doorplate_code": "MP01", "address": "泉辛新村16幢", "采集人": "网格员07"}


def test_a_record_already_under_the_contract_names_is_left_alone() -> None:
    assert RowMapper(Kind.PERSON).record({"key": "p1", "name": "王伟"}) is None


def test_one_mapper_maps_records_of_several_header_sets_each_as_a_fresh_one_would() -> None:
    # A JSON source leaves empty fields out, so its records come with several sets of headers.
    records = [
        {"编号": "1", "姓名": "王伟", "手机号": "139"},
        {"key": "2", "name": "李娜"},
        {"编号": "3", "姓名": "张强"},
        {"编号": "4", "姓名": "赵敏", "手机号": "138"},
        {"key": "5", "name": "", "姓名": "陈刚"},
        {"编号": "6", "姓名": "周涛"},
    ]
    mapper = RowMapper(Kind.PERSON)
    assert [mapper.record(r) for r in records * 2] == [RowMapper(Kind.PERSON).record(r) for r in records * 2]
    assert mapper.record(records[2]) == {"key": "3", "name": "张强"}
    assert mapper.record(records[1]) is None


def test_a_column_named_as_the_field_wins_over_a_recognised_header() -> None:
    # Both given: the contract's column is kept as the field, the other stays under its own header.
    assert RowMapper(Kind.PERSON).record({"key": "p1", "name": "王伟", "姓名": "王 伟"}) is None
    assert RowMapper(Kind.PERSON).record({"key": "p1", "name": "", "姓名": "王伟"}) == {
        "key": "p1",
        "name": "王伟",
    }


def test_a_source_mapping_adds_to_and_overrides_the_built_in_headers() -> None:
    mapping = parse_mapping(
        HOUSEHOLD.replace('"人员编号" = "key"', '"人员编号" = "key"\n"地址" = "registered_address"')
    )
    record = RowMapper(Kind.PERSON, mapping).record(
        {"人员编号": "HJ1", "地址": "常熟市", "证件号": "X1", "性别": "2", "出生日期": "1985年03月02日"}
    )
    assert record == {
        "key": "HJ1",
        "registered_address": "常熟市",  # the built-ins would say address
        "id_number": "X1",
        "legal_representative_id_number": "X1",  # one column copied to two fields
        "gender": "女",
        "birth_date": "1985-03-02",
    }


@pytest.mark.parametrize(
    ("written", "stored"),
    [("1985年03月02日", "1985-03-02"), ("1960年2月28日", "1960-02-28"), ("19771130", "1977-11-30"),
     ("1985-03-02", "1985-03-02"), ("不详", "不详"), ("", "")],
)  # fmt: skip
def test_dates_in_the_mapping_formats_are_stored_as_iso_and_others_verbatim(
    written: str, stored: str
) -> None:
    mapper = RowMapper(Kind.PERSON, parse_mapping(HOUSEHOLD))
    record = mapper.record({"key": "p1", "birth_date": written})
    assert (record or {"birth_date": written})["birth_date"] == stored


def test_codes_not_in_the_value_map_are_kept() -> None:
    mapper = RowMapper(Kind.PERSON, parse_mapping(HOUSEHOLD))
    assert mapper.record({"key": "p1", "gender": " 1 "}) == {"key": "p1", "gender": "男"}
    assert mapper.record({"key": "p1", "gender": "9"}) is None
    assert mapper.record({"key": "p1", "gender": 2}) == {"key": "p1", "gender": "女"}  # a JSON number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[columns]\n"姓名" = "name"\n"身份证" = "id_numbr"\n',
            "line 3: column '身份证': unknown field 'id_numbr'",
        ),
        ("[columns]\n姓名 = name\n", "not valid TOML"),
        ('[columns]\n"姓名" = "name"\n[column]\n"电话" = "phone"\n', "line 3: unknown key 'column'"),
        ('[values.sex]\n"1" = "男"\n', "line 1: [values.sex]: unknown field 'sex'"),
        ('[dates]\nbirth_date = "YYYY年MM月DD日"\n', "line 2: dates.birth_date: expected strptime formats"),
        ('[columns]\n"姓名" = 3\n', "line 2: column '姓名': expected a field name"),
        ('[values]\ngender = "男"\n', "line 2: values.gender: expected a table"),
    ],
)
def test_a_bad_mapping_file_is_refused_naming_the_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, "household.toml")
    message = str(caught.value)
    assert message.startswith("household.toml")
    assert expected in message
    assert "\n" not in message


def test_the_toml_error_names_its_line() -> None:
    with pytest.raises(MappingError, match=r"line 2"):
        parse_mapping("[columns]\n姓名 = name\n", "m.toml")


def test_an_empty_mapping_maps_by_the_built_ins_only() -> None:
    assert parse_mapping("") == ColumnMapping()


CHINESE = "key,name,address\np1,王伟,江苏省常熟市虞山街道海虞北路18号\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"key,name\np1,Wang Wei\n", "utf-8"),
        (CHINESE.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + CHINESE.encode("utf-8"), "utf-8"),
        (CHINESE.encode("utf-16"), "utf-16"),  # with its byte-order mark, little-endian here
        (b"\xfe\xff" + CHINESE.encode("utf-16-be"), "utf-16"),
        (CHINESE.encode("gb18030"), "gb18030"),
        ("p1,华盛\n".encode("gb18030"), "gb18030"),  # a line of two characters is enough
        (CHINESE.encode("utf-8") * 5 + b"p9,\xff\xfe\n", "utf-8"),  # one broken line: UTF-8, quarantined
    ],
)
def test_the_encoding_is_detected_from_the_start(content: bytes, expected: str) -> None:
    assert detect_encoding(content) == expected
