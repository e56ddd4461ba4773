"""Match fields: the Arrow form of an address's match fields gives what the per-record form gives."""

from __future__ import annotations

import pyarrow as pa

from hub.domain import Kind
from hub.normalize.columns import address_match_columns
from hub.normalize.fields import ADDRESS_FEATURES, flatten
from hub.normalize.records import address_features

WRITTEN = [
    "江苏省苏州市常熟市琴川街道滨江西路77号南园花园2幢2单元1701室",
    "琴川街道虞泉社区南园花园2-2-1701",
    "常熟琴川街道南园花园2#1701",
    "泉辛16-1-702",
    "常熟市沙家浜镇和亭8号",  # a village without 村: no flat, a village house
    "江苏省苏州市常熟市沙家浜镇和亭村瞿家湾8号",
    "江苏省常熟市琴川街道美庄村六组20号",
    "美庄村委会孙家浜20号",
    "常熟丰山村三十六之一",
    "殷家浜14号",  # a hamlet's house without its village
    "辛庄镇",  # a town alone: names no place
    "常熟市虞山街道安亭社区金溪苑1#1601",
    "江苏省苏州市常熟市海虞镇安湾村委会3组13号",
    "常熟市东南经济开发区梅苑社区华岸花园1#401",
    "莫城街道福景苑2#101 张三13912345678",
]


def test_the_arrow_form_of_an_addresss_match_fields_is_the_per_record_form() -> None:
    parsed = [address_features(text) for text in WRITTEN]
    features = pa.array(
        [
            {name: f.get(name) for name in ADDRESS_FEATURES} | {"doorplate_code": "3205810", "grid_code": ""}
            for f in parsed
        ],
        pa.struct([(name, pa.string()) for name in ADDRESS_FEATURES]),
    )
    columns = address_match_columns(features)
    for k, f in enumerate(parsed):
        expected = flatten(Kind.ADDRESS, {**f, "doorplate_code": "3205810", "grid_code": ""})
        got = {name: column[k].as_py() for name, column in columns.items()}
        assert got == {name: value or None for name, value in expected.items()}, WRITTEN[k]
    assert columns["flat"][4].as_py() is None and columns["dwelling"][4].as_py() == "和亭|8"
