"""Person names: one canonical spelling, the surname split right, and pinyin keys that survive a name
written down by ear.

`normalize_person_name("張 偉（曾用名張小偉）")` gives name "张伟", pinyin "zhang wei", surname "张".

Choices the matching relies on:

- Surnames are read as surnames (曾 zeng, 单 shan, 尉迟 yu chi); the given name is read the way
  `pypinyin.lazy_pinyin(given, style=Style.NORMAL)` reads it, so a two-character given name that is
  also a word takes the word's reading (长江 chang jiang, 朝阳 zhao yang).
- `homophone_key` is the exact toneless pinyin, surname first: equal keys sound the same in
  Mandarin ("张伟", "章玮", even "Zhang Wei" all give "zhang wei").
- `sound_key` is looser and a separate key because it costs precision: it also folds the
  confusions of the local Wu speech and of the Anhui, Sichuan and Hunan migrants that grid workers
  hear every day: zh/z, ch/c, sh/s, initial n/l, final -ng/-n ("陈静" = "程金" = "cen jin").
- A note in brackets or after 曾用名 / 别名 / 又名 ... is not part of the name: it is dropped here and
  returned by `split_name_note` for the caller to keep as an alias.
- Minority and foreign names keep their parts joined by "·" and get no surname: 阿依古丽·买买提 has
  no family name, and the order of a Latin name cannot be known.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

import opencc

__all__ = ["COMPOUND_SURNAMES", "PersonName", "normalize_person_name", "split_name_note", "to_simplified"]

_CACHE_SIZE = 1 << 16  # distinct names kept; the common ones repeat by the thousand
_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_IS_HAN = re.compile(f"[{_HAN}]")
_ALL_HAN = re.compile(f"[{_HAN}]+")
_PLAIN_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")  # Han that NFKC leaves as it is
_HAN_RUNS = re.compile(f"[{_HAN}]+|[^\\W\\d_{_HAN}]+")  # Han runs and letter runs: the sounding parts
_DOT = "·・•‧∙⋅.。\\-‐‑–—"  # NFKC has already turned ･ ． ｡ － into these
_DOTS = re.compile(f"\\s*[{_DOT}][\\s{_DOT}]*")
_SPACE_IN_HAN = re.compile(f"(?<=[{_HAN}·])\\s+(?=[{_HAN}·])")
_SPACES = re.compile(r"\s+")
_BRACKET_NOTE = re.compile(r"\s*[(\[【〔{〖]([^)\]】〕}〗]*)(?:[)\]】〕}〗]|$)\s*")
_STRAY_BRACKETS = re.compile(r"[)\]】〕}〗]")
_KEYWORD_NOTE = re.compile(
    r"(?<=\S)[\s,，;；:：/、]*((?:曾用名|别名|又名|原名|乳名|化名|英文名|中文名)[\s:：]*\S[\s\S]*)$"
)
_SEPARATOR_NOTE = re.compile(f"(?<=[{_HAN}])\\s*[,，;；/、|]\\s*([\\s\\S]+)$")
_NOTE_CUT = ":： "


def _words(text: str) -> list[str]:
    return text.split()


# Compound surnames that still occur; 宗政, 乐正, 梁丘, 单于 are left out on purpose: each begins with
# a common single surname and goes on with a common given-name character (宗政华 is 宗 + 政华).
COMPOUND_SURNAMES = frozenset(
    _words(
        "欧阳 司马 诸葛 上官 司徒 东方 独孤 南宫 夏侯 尉迟 公孙 慕容 长孙 宇文 司空 皇甫 令狐 端木 万俟"
        " 闻人 申屠 澹台 公冶 轩辕 呼延 钟离 太史 公羊 赫连 濮阳 淳于 西门 拓跋 鲜于 闾丘 百里 东郭 司寇"
        " 亓官 巫马 漆雕 公良 左丘 谷梁 南门 羊舌 微生 公西 段干 夹谷 宰父 颛孙 壤驷 第五"
    )
)

# The reading of a character when it is a surname, where pypinyin's default reading differs or is
# easily mistaken (its default for 曾 is "ceng", for 区 "qu", for 覃 "tan").
_SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    key: tuple(value.split("-"))
    for key, value in (
        token.split("=")
        for token in _words(
            "曾=zeng 单=shan 解=xie 仇=qiu 区=ou 查=zha 朴=piao 盖=ge 覃=qin 秘=bi 缪=miao 翟=zhai 乐=yue"
            " 燕=yan 任=ren 员=yun 隗=wei 种=chong 宓=fu 尉=wei 长=chang 朝=chao 重=chong 都=du 华=hua"
            " 纪=ji 柏=bai 薄=bo 车=che 石=shi 沈=shen 谌=chen 召=shao 冼=xian 洗=xian 折=she 牟=mou 句=gou"
            " 阚=kan 繁=po 蕃=pi 能=nai 祭=zhai 訾=zi 仉=zhang 眭=sui 莘=shen 蔚=yu 逄=pang 粘=nian 佴=nai"
            " 褚=chu 黑=he 贲=ben 郇=xun 藉=ji 相=xiang 行=xing 叶=ye 强=qiang 曲=qu 应=ying 盛=sheng"
            " 殷=yin 宿=su 卜=bu 万=wan 那=na 陆=lu 乜=nie 亓=qi 阿=a 大=da"
            " 尉迟=yu-chi 万俟=mo-qi 长孙=zhang-sun 澹台=tan-tai 令狐=ling-hu"
        )
    )
}

# Characters OpenCC's t2s turns into another character although they are standard simplified
# characters in names: 乾 (qian) would become 干 (gan) and lose its sound.
_KEEP_IN_T2S = "乾"


class PersonName(NamedTuple):
    """A person's name in canonical form with its pinyin keys; every field is None for an empty name."""

    name: str | None  # "张伟", "阿依古丽·买买提", "John Smith"
    name_pinyin: str | None  # "zhang wei": toneless, surname first, one syllable per Han character
    surname: str | None  # None for minority, foreign and partial ("王*") names
    given: str | None
    homophone_key: str | None  # equal for names that sound alike in Mandarin
    is_foreign_or_minority: bool  # parts joined by "·", letters, or more than four Han characters
    sound_key: str | None = None  # equal also across zh/z, ch/c, sh/s, n/l, -ng/-n


_EMPTY = PersonName(None, None, None, None, None, False, None)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _t2s_once(text: str, by_character: bool) -> str:
    convert = _t2s().convert
    if by_character:
        return "".join(char if char in _KEEP_IN_T2S else str(convert(char)) for char in text)
    if _KEEP_IN_T2S not in text:
        return str(convert(text))
    return _KEEP_IN_T2S.join(str(convert(part)) for part in text.split(_KEEP_IN_T2S))


def to_simplified(text: str, *, by_character: bool = False) -> str:
    """Write traditional characters as simplified ones with OpenCC's t2s: "張偉" -> "张伟".

    `by_character` converts each character alone, as names need: a name is not a phrase, and t2s
    reads "沈靜" as the word 沉静 where the person is 沈静.
    """
    if text.isascii():
        return text
    simplified = _t2s_once(text, False)
    if simplified == text:  # already simplified: the usual case, one call
        return text
    for _ in range(3):  # t2s is not always a fixed point: 薴 -> 苧 -> 苎
        simplified = _t2s_once(text, by_character)
        if simplified == text:
            break
        text = simplified
    return text


def split_name_note(text: str) -> tuple[str, str | None]:
    """Split a written name from the note a clerk added: "王伟（曾用名王小伟）" -> ("王伟", "曾用名王小伟").

    Both parts come back NFKC-normalized and in simplified characters.

    Notes are bracketed text, anything from 曾用名 / 别名 / 又名 / 原名 / 乳名 / 化名 / 英文名 on
    (小名 is left alone: 王小名 is a name), and for Chinese names anything after a list separator
    ("王伟/王玮"). Several notes are joined with "；".
    """
    text = to_simplified(unicodedata.normalize("NFKC", text), by_character=True)  # first: 別名 is 别名
    notes: list[str] = []

    def keep(match: re.Match[str]) -> str:
        note = match.group(1).strip(_NOTE_CUT)
        if note:
            notes.append(note)
        return " "

    if "(" in text or "[" in text or "【" in text or "〔" in text or "{" in text or "〖" in text:
        text = _BRACKET_NOTE.sub(keep, text)
    text = _STRAY_BRACKETS.sub("", text)
    text = _KEYWORD_NOTE.sub(keep, text)
    text = _SEPARATOR_NOTE.sub(keep, text)
    return text.strip(), "；".join(notes) or None


@lru_cache(maxsize=1)
def _pypinyin_dictionaries() -> tuple[Mapping[int, str], Mapping[str, Sequence[Sequence[str]]]]:
    # pypinyin takes 0.3 s to import (its phrase dictionary); pay that at the first name, not at import.
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    return PINYIN_DICT, PHRASES_DICT


_TONELESS: dict[str, str] = {}
_READING: dict[str, str] = {}  # character -> default toneless reading, filled from pypinyin as met
_FOLDED: dict[str, str] = {}


def _toneless(syllable: str) -> str:
    """Strip the tone marks of one pypinyin reading, writing ü as v: "lǚ" -> "lv" (Style.NORMAL)."""
    plain = _TONELESS.get(syllable)
    if plain is None:
        decomposed = unicodedata.normalize("NFD", syllable)
        kept = "".join(c for c in decomposed if c == "\u0308" or not unicodedata.combining(c))
        plain = _TONELESS[syllable] = unicodedata.normalize("NFC", kept).replace("ü", "v")
    return plain


def _reading(char: str) -> str:
    """The default toneless reading of one Han character; a character pypinyin lacks stands for itself."""
    reading = _READING.get(char)
    if reading is None:
        readings = _pypinyin_dictionaries()[0].get(ord(char))
        reading = _READING[char] = _toneless(readings.split(",", 1)[0]) if readings else char
    return reading


def _run_syllables(run: str) -> list[str]:
    """Read a run of Han characters as `lazy_pinyin(run, style=Style.NORMAL)` does: words by their reading."""
    if len(run) == 1:
        return [_reading(run)]
    if len(run) == 2:
        phrase = _pypinyin_dictionaries()[1].get(run)
        if phrase is not None:
            return [_toneless(readings[0]) for readings in phrase]
        return [_reading(run[0]), _reading(run[1])]
    from pypinyin import Style, lazy_pinyin  # longer runs are rare: minority names, a few given names

    syllables = lazy_pinyin(run, style=Style.NORMAL)
    if len(syllables) != len(run):  # characters pypinyin lacks come back glued together
        return [_reading(char) for char in run]
    return syllables


def _fold(syllable: str) -> str:
    """Fold the accents' confusions into one sound: zh/z, ch/c, sh/s, n/l, -ng/-n: "zhang" -> "zan"."""
    folded = _FOLDED.get(syllable)
    if folded is None:
        folded = syllable
        if folded.startswith(("zh", "ch", "sh")):
            folded = folded[0] + folded[2:]
        elif folded.startswith("n") and len(folded) > 1 and folded != "ng":
            folded = "l" + folded[1:]
        if folded.endswith("ng") and len(folded) > 2:
            folded = folded[:-1]
        _FOLDED[syllable] = folded
    return folded


def _canonical(text: str) -> str:
    """NFKC, no note, simplified, dots unified and spaces dropped inside Chinese names."""
    if _PLAIN_HAN.fullmatch(text) and "名" not in text:  # nine names in ten: nothing to clean
        return to_simplified(text, by_character=True)
    text, _ = split_name_note(text)
    if not _IS_HAN.search(text):
        text = _SPACES.sub(" ", text).strip()
    else:
        text = _DOTS.sub("·", text)
        text = _SPACE_IN_HAN.sub("", text)
        text = _SPACES.sub(" ", text).strip(" ·")
    # a dropped space can bring a letter and a combining accent together: compose them again
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _split_surname(name: str) -> tuple[str, str | None]:
    """Split a Chinese name of two to four characters: "欧阳娜娜" -> ("欧阳", "娜娜")."""
    surname = name[:2] if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else name[:1]
    return surname, name[len(surname) :] or None


def _normalize(text: str) -> PersonName:
    name = _canonical(text)
    if not name:
        return _EMPTY
    pure_han = _ALL_HAN.fullmatch(name) is not None
    surname: str | None
    given: str | None
    if pure_han and len(name) <= 4:
        surname, given = _split_surname(name)
        syllables = list(_SURNAME_READINGS.get(surname) or map(_reading, surname))
        if given:
            syllables += _run_syllables(given)
        foreign = False
    else:
        surname = given = None
        syllables = []
        for run in _HAN_RUNS.findall(name):
            syllables += _run_syllables(run) if _IS_HAN.match(run) else [run.lower()]
        letters = not pure_han and any(c.isalpha() and not _IS_HAN.match(c) for c in name)
        foreign = "·" in name or letters or len(_IS_HAN.findall(name)) > 4
    if not syllables:
        return PersonName(name, None, surname, given, None, foreign, None)
    pinyin = " ".join(syllables)
    return PersonName(name, pinyin, surname, given, pinyin, foreign, " ".join(map(_fold, syllables)))


@lru_cache(maxsize=_CACHE_SIZE)
def _normalize_cached(text: str) -> PersonName:
    return _normalize(text)


def normalize_person_name(text: str) -> PersonName:
    """Return the canonical name, its surname and pinyin keys: "曾伟" -> "曾伟", "zeng wei", "曾", ..."""
    return _normalize_cached(text)
