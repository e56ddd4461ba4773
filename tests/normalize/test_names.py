"""Person names: canonical form, surname split, surname readings, homophone and sound keys, notes."""

from __future__ import annotations

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from hub.normalize.names import PersonName, normalize_person_name, split_name_note, to_simplified

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗顾陆钱沈殷浦瞿归曾单解仇区查朴乐盖缪覃华纪翟"
GIVEN = "伟敏静丽军华芳英红杰磊婷娜涛明建国海晓春志强平东峰林长江朝阳重行乐传茜柏子涵轩宇浩然佳怡"
NAME_CHARS = SURNAMES + GIVEN
_S2T = opencc.OpenCC("s2t")


def create_name(surname: str, given: str) -> str:
    return surname + given


han_names = st.builds(
    create_name,
    st.sampled_from([*SURNAMES, "欧阳", "司马", "诸葛", "尉迟", "长孙", "万俟"]),
    st.text(alphabet=GIVEN, min_size=1, max_size=2),
)


@pytest.mark.parametrize(
    ("text", "name", "pinyin", "surname", "given_name", "foreign"),
    [
        ("王伟", "王伟", "wang wei", "王", "伟", False),
        ("王 伟", "王伟", "wang wei", "王", "伟", False),  # a grid worker's space
        (" 王　伟 ", "王伟", "wang wei", "王", "伟", False),  # ideographic space
        ("張偉", "张伟", "zhang wei", "张", "伟", False),  # traditional
        ("王伟（曾用名王小伟）", "王伟", "wang wei", "王", "伟", False),
        ("王伟(曾用名:王小伟)", "王伟", "wang wei", "王", "伟", False),
        ("王伟 曾用名王小伟", "王伟", "wang wei", "王", "伟", False),
        ("王秀英", "王秀英", "wang xiu ying", "王", "秀英", False),
        ("欧阳娜娜", "欧阳娜娜", "ou yang na na", "欧阳", "娜娜", False),
        ("歐陽娜娜", "欧阳娜娜", "ou yang na na", "欧阳", "娜娜", False),
        ("诸葛亮", "诸葛亮", "zhu ge liang", "诸葛", "亮", False),
        ("司马光", "司马光", "si ma guang", "司马", "光", False),
        ("上官婉儿", "上官婉儿", "shang guan wan er", "上官", "婉儿", False),
        ("欧阳", "欧阳", "ou yang", "欧", "阳", False),  # two characters: a single surname
        ("宗政华", "宗政华", "zong zheng hua", "宗", "政华", False),  # 宗政 is left out on purpose
        ("吕洁", "吕洁", "lv jie", "吕", "洁", False),  # ü written v
        ("王长江", "王长江", "wang chang jiang", "王", "长江", False),  # the word's reading, not zhang
        ("王朝阳", "王朝阳", "wang zhao yang", "王", "朝阳", False),
        ("王乾", "王乾", "wang qian", "王", "乾", False),  # t2s must not turn 乾 into 干
        ("沈靜", "沈静", "shen jing", "沈", "静", False),  # nor read the name as the word 沉静
        ("曾", "曾", "zeng", "曾", None, False),
        ("阿依古丽·买买提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),
        ("阿依古丽.买买提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),
        ("阿依古丽・买买提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),
        ("阿依古丽･买买提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),  # half-width
        ("阿依古丽•买买提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),
        ("阿依古丽。买买提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),
        ("阿依古丽 · 买买提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),
        ("阿依古麗·買買提", "阿依古丽·买买提", "a yi gu li mai mai ti", None, None, True),
        ("艾力·吐尔逊", "艾力·吐尔逊", "ai li tu er xun", None, None, True),
        ("阿布都热依木卡德尔", "阿布都热依木卡德尔", None, None, None, True),  # long, no dot
        ("John Smith", "John Smith", "john smith", None, None, True),
        ("John  SMITH", "John SMITH", "john smith", None, None, True),
        ("ＷＡＮＧ　ＷＥＩ", "WANG WEI", "wang wei", None, None, True),  # full-width letters
        ("王*", "王*", "wang", None, None, False),  # masked: no split on a partial name
    ],
)
def test_normalize_person_name(
    text: str, name: str, pinyin: str | None, surname: str | None, given_name: str | None, foreign: bool
) -> None:
    parsed = normalize_person_name(text)
    assert parsed.name == name
    if pinyin is not None:
        assert parsed.name_pinyin == pinyin
    assert (parsed.surname, parsed.given, parsed.is_foreign_or_minority) == (surname, given_name, foreign)


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        ("曾伟", "zeng wei"),
        ("单田芳", "shan tian fang"),
        ("解晓东", "xie xiao dong"),
        ("仇明", "qiu ming"),
        ("区志强", "ou zhi qiang"),
        ("查良镛", "zha liang yong"),
        ("朴槿惠", "piao jin hui"),
        ("尉迟恭", "yu chi gong"),
        ("万俟丽", "mo qi li"),
        ("长孙无忌", "zhang sun wu ji"),
        ("盖聂", "ge nie"),
        ("覃海", "qin hai"),
        ("秘红", "bi hong"),
        ("缪斌", "miao bin"),
        ("翟敏", "zhai min"),
        ("乐嘉", "yue jia"),
        ("燕明", "yan ming"),
        ("任静", "ren jing"),
        ("员军", "yun jun"),
        ("隗杰", "wei jie"),
        ("种涛", "chong tao"),
        ("宓芳", "fu fang"),
        ("澹台明", "tan tai ming"),
        ("王乐", "wang le"),  # 乐 is yue only as a surname
        ("曾曾", "zeng ceng"),  # and 曾 is zeng only as a surname
    ],
)
def test_surname_readings(text: str, pinyin: str) -> None:
    assert normalize_person_name(text).name_pinyin == pinyin


@pytest.mark.parametrize("text", ["", " ", "\u3000", "（曾用名王小伟）", "()"])
def test_empty_names_are_all_none(text: str) -> None:
    assert normalize_person_name(text) == PersonName(None, None, None, None, None, False, None)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("张伟", "章玮"),
        ("王静", "汪婧"),
        ("李娜", "黎纳"),
        ("刘洋", "柳阳"),
        ("张伟", "ZHANG WEI"),  # a passport spelling of the same sound
        ("曾伟", "增伟"),  # the surname reading makes 曾 sound like 增
    ],
)
def test_homophones_share_the_homophone_key(first: str, second: str) -> None:
    assert normalize_person_name(first).homophone_key == normalize_person_name(second).homophone_key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("陈静", "程金"),  # chen/cheng and jing/jin: -n/-ng twice
        ("张伟", "臧伟"),  # zh/z
        ("施敏", "司敏"),  # sh/s
        ("刘宁", "牛玲"),  # n/l both ways
        ("王平", "王频"),  # -ng/-n
    ],
)
def test_accent_confusions_share_only_the_sound_key(first: str, second: str) -> None:
    one, other = normalize_person_name(first), normalize_person_name(second)
    assert one.homophone_key != other.homophone_key
    assert one.sound_key == other.sound_key


@pytest.mark.parametrize(("first", "second"), [("王伟", "王辉"), ("张敏", "张华"), ("李强", "李刚")])
def test_different_names_have_different_keys(first: str, second: str) -> None:
    one, other = normalize_person_name(first), normalize_person_name(second)
    assert one.homophone_key != other.homophone_key
    assert one.sound_key != other.sound_key


@pytest.mark.parametrize(
    ("text", "rest", "note"),
    [
        ("王伟（曾用名王小伟）", "王伟", "曾用名王小伟"),
        ("王伟(曾用名：王小伟)", "王伟", "曾用名:王小伟"),  # NFKC
        ("王伟【已故】", "王伟", "已故"),
        ("王伟 别名 阿毛", "王伟", "别名 阿毛"),
        ("王伟別名阿毛", "王伟", "别名阿毛"),  # traditional keyword
        ("王伟/王玮", "王伟", "王玮"),
        ("王伟（曾用名王小伟", "王伟", "曾用名王小伟"),  # never closed
        ("王小名", "王小名", None),  # a given name, not a note
        ("John Smith (Jack)", "John Smith", "Jack"),
        ("Smith, John", "Smith, John", None),  # the comma of a Latin name stays
        ("王伟", "王伟", None),
    ],
)
def test_split_name_note(text: str, rest: str, note: str | None) -> None:
    split_rest, split_note = split_name_note(text)
    assert " ".join(split_rest.split()) == rest
    assert split_note == note


def test_to_simplified_keeps_qian() -> None:
    assert to_simplified("乾隆 張偉 王乾") == "乾隆 张伟 王乾"


def test_to_simplified_by_character_reads_no_words() -> None:
    assert to_simplified("沈靜") == "沉静"
    assert to_simplified("沈靜", by_character=True) == "沈静"


def test_cache_returns_the_same_result() -> None:
    assert normalize_person_name("王伟") is normalize_person_name("王伟")


@given(st.text(alphabet=NAME_CHARS + "張偉歐陽麗華 　·・.。()（）曾用名/,AbＣ-1*", max_size=12))
def test_normalizing_twice_changes_nothing(text: str) -> None:
    once = normalize_person_name(text)
    if once.name is not None:
        assert normalize_person_name(once.name) == once


@given(st.text(alphabet=NAME_CHARS + "龘鱻犇淼喆堃", min_size=1, max_size=8))
def test_one_syllable_per_han_character(text: str) -> None:
    parsed = normalize_person_name(text)
    assert parsed.name_pinyin is not None
    assert len(parsed.name_pinyin.split()) == len(text)


@given(han_names)
def test_traditional_and_simplified_give_the_same_result(text: str) -> None:
    assert normalize_person_name(_S2T.convert(text)) == normalize_person_name(text)


@settings(max_examples=200)
@given(han_names)
def test_given_names_read_as_pypinyin_reads_them(text: str) -> None:
    parsed = normalize_person_name(text)
    assert parsed.given is not None and parsed.name_pinyin is not None
    given_syllables = parsed.name_pinyin.split()[len(parsed.surname or "") :]
    assert given_syllables == lazy_pinyin(parsed.given, style=Style.NORMAL)


@given(han_names)
def test_homophone_key_is_the_pinyin_and_sound_key_folds_it(text: str) -> None:
    parsed = normalize_person_name(text)
    assert parsed.homophone_key == parsed.name_pinyin
    assert parsed.sound_key is not None and parsed.name_pinyin is not None
    assert len(parsed.sound_key.split()) == len(parsed.name_pinyin.split())
    assert not any(
        s.startswith(("zh", "ch", "sh", "n")) or s.endswith("ng") for s in parsed.sound_key.split()
    )
