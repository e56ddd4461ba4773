"""Company names: the canonical full name, and the distinguishing core left when the legal form, the
region prefix and the branch part are taken off.

`normalize_company_name("苏州华盛服装有限公司常熟分公司")` gives core "华盛服装", region "苏州",
legal form "有限公司" and branch "常熟分公司".

What counts as what:

- **Legal forms** are the forms the law names: 有限公司 (有限责任公司 is the same form and is reported
  as 有限公司), 股份有限公司, 股份公司, 总公司, bare 公司, 合伙企业 with (普通合伙 / 有限合伙 /
  特殊普通合伙), 个人独资企业, 个体工商户, and the cooperatives (农民专业合作社, 股份经济合作社, ...).
  Words that say what kind of business it is stay in the core: 厂, 店, 经营部, 门市部, 商行, 超市,
  工作室, 事务所, 中心, 集团. "华盛服装厂" and "华盛服装有限公司" are two legal entities (often an
  individual business and the company it became); their cores differ by 厂 and stay close for
  fuzzy comparison without being equal.
- **Regions** are stripped from the front, in any order and repeated (中国, provinces, prefecture
  cities, counties, towns: "江苏省苏州市常熟市虞山镇"), and in brackets anywhere ("（常熟）", "(中国)").
  Every level is stripped in its full form (常熟市, 吴中区); the short form without 省 / 市 / 区 only
  for provinces, Jiangsu's prefecture cities, Suzhou's county-level cities and a few big cities,
  because the short forms of other counties are ordinary brand words (泰兴, 永安, 嘉兴, 德兴). 中华 is
  not stripped: it is a brand word (中华书局, 中华联合).
- **A region the core cannot do without stays**: when what is left is only industry and generic
  words ("银行", "自来水", "农村商业银行"), the most specific region above town level is kept in its
  short form, so 江苏银行 and 苏州银行 do not share the core "银行" ("常熟市自来水有限公司" -> "常熟自来水").
  `region` reports the region words the name carries either way, in the order they were found.
- **Branches** (a branch is never its head office): any unit after a company legal form
  ("…有限公司常熟分公司", "…有限公司黄河路店", "…股份有限公司常熟海虞北路证券营业部"); without a
  legal form, a name ending in 分公司, 支公司, 分店, 分厂, 分行, 支行, 营业所, 分理处, 办事处,
  代表处, 营业部, 分部, 分社, 分所, 分中心, 分院, 分校, 分场; a bracketed last part ending in one
  of those or in 店 ("（常熟万达店）"); and a name ending in 店 only when a place or an ordinal comes
  before it ("黄河路店", "虞山店", "第一店", "8号店"), since "华盛服装店" is a shop of its own. The
  branch part takes the ordinal or place before the branch word and the region or town words before
  that ("常熟分公司", "虞山第一分店"); 经营部 / 门市部 / 服务部 without a company before them are a
  business's own name, not branches.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from hub.normalize.names import to_simplified

__all__ = ["CompanyName", "normalize_company_name"]

_CACHE_SIZE = 1 << 16  # a city has ~12k companies, each spelled a few ways

# -- regions: "name" with the level's suffix; levels 0 country, 1 province, 2 prefecture, 3 county, 4 town
_COUNTRY = "中华人民共和国 中国"
_PROVINCES = (
    "北京市 天津市 上海市 重庆市 河北省 山西省 辽宁省 吉林省 黑龙江省 江苏省 浙江省 安徽省 福建省 江西省"
    " 山东省 河南省 湖北省 湖南省 广东省 海南省 四川省 贵州省 云南省 陕西省 甘肃省 青海省 台湾省 内蒙古自治区"
    " 广西壮族自治区 西藏自治区 宁夏回族自治区 新疆维吾尔自治区 香港特别行政区 澳门特别行政区"
)
_JIANGSU_CITIES = (
    "南京市 无锡市 徐州市 常州市 苏州市 南通市 连云港市 淮安市 盐城市 扬州市 镇江市 泰州市 宿迁市"
)
_OTHER_CITIES = (
    "杭州市 宁波市 温州市 嘉兴市 湖州市 绍兴市 金华市 衢州市 舟山市 台州市 丽水市"  # Zhejiang
    " 合肥市 芜湖市 蚌埠市 淮南市 马鞍山市 淮北市 铜陵市 安庆市 黄山市 滁州市 阜阳市 宿州市 六安市 亳州市"
    " 池州市 宣城市"  # Anhui, where most migrant workers come from
    " 石家庄市 太原市 沈阳市 长春市 哈尔滨市 福州市 南昌市 济南市 郑州市 武汉市 长沙市 广州市 海口市 成都市"
    " 贵阳市 昆明市 西安市 兰州市 西宁市 呼和浩特市 南宁市 拉萨市 银川市 乌鲁木齐市 深圳市 厦门市 青岛市"
    " 大连市"
)
_JIANGSU_COUNTIES = (
    "玄武区 秦淮区 建邺区 鼓楼区 浦口区 栖霞区 雨花台区 江宁区 六合区 溧水区 高淳区"
    " 锡山区 惠山区 滨湖区 梁溪区 新吴区 江阴市 宜兴市"
    " 云龙区 贾汪区 泉山区 铜山区 丰县 沛县 睢宁县 新沂市 邳州市"
    " 天宁区 钟楼区 新北区 武进区 金坛区 溧阳市"
    " 虎丘区 吴中区 相城区 姑苏区 吴江区 苏州工业园区 苏州高新区 常熟市 张家港市 昆山市 太仓市"
    " 崇川区 通州区 海门区 如东县 启东市 如皋市 海安市"
    " 连云区 海州区 赣榆区 东海县 灌云县 灌南县"
    " 淮安区 淮阴区 清江浦区 洪泽区 涟水县 盱眙县 金湖县"
    " 亭湖区 盐都区 大丰区 响水县 滨海县 阜宁县 射阳县 建湖县 东台市"
    " 广陵区 邗江区 江都区 宝应县 仪征市 高邮市"
    " 京口区 润州区 丹徒区 丹阳市 扬中市 句容市"
    " 海陵区 高港区 姜堰区 兴化市 靖江市 泰兴市"
    " 宿城区 宿豫区 沭阳县 泗阳县 泗洪县"
    # names before the mergers of 2000-2020, still in old registrations
    " 吴江市 吴县市 吴县 平江区 沧浪区 金阊区 锡山市 江都市 姜堰市 大丰市 金坛市 海门市 港闸区 崇安区 南长区"
    " 北塘区 赣榆县 铜山县 淮阴县 洪泽县 楚州区 清河区 清浦区 戚墅堰区 下关区 白下区 溧水县 高淳县 海安县"
)
_CHANGSHU_TOWNS = (
    "虞山街道 常福街道 琴川街道 莫城街道 碧溪街道 东南街道 梅李镇 海虞镇 古里镇 沙家浜镇 支塘镇 董浜镇 辛庄镇"
    " 尚湖镇 虞山镇 莫城镇 碧溪镇 常熟经济技术开发区 常熟高新技术产业开发区"
)
# Regions whose short form is stripped as well ("常熟华盛" -> "华盛"); see the module docstring.
_SHORT_FORM_STRIPPED = (
    _PROVINCES + " " + _JIANGSU_CITIES + " 常熟市 张家港市 昆山市 太仓市 吴江市 吴江区"
    " 杭州市 宁波市 合肥市 广州市 深圳市"
)
_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "街道",
    "省",
    "市",
    "区",
    "县",
    "镇",
)


def _words(text: str) -> list[str]:
    return text.split()


def _short(region: str) -> str:
    """The region without its level word: "常熟市" -> "常熟"; a one-character remainder keeps it ("丰县")."""
    for suffix in _SUFFIXES:
        if region.endswith(suffix) and len(region) - len(suffix) >= 2:
            return region[: -len(suffix)]
    return region


def _region_table() -> tuple[dict[str, tuple[int, str]], frozenset[str]]:
    """Prefix tokens -> (level, short form), and every place word a branch part may start with."""
    levels = (
        (0, _COUNTRY),
        (1, _PROVINCES),
        (2, _JIANGSU_CITIES + " " + _OTHER_CITIES),
        (3, _JIANGSU_COUNTIES),
        (4, _CHANGSHU_TOWNS),
    )
    short_stripped = set(_SHORT_FORM_STRIPPED.split())
    prefixes: dict[str, tuple[int, str]] = {}
    places: set[str] = set()
    for level, names in levels:
        for name in names.split():
            short = _short(name) if level else name
            prefixes.setdefault(name, (level, short))
            if name in short_stripped:
                prefixes.setdefault(short, (level, short))
            places.update((name, short))
    return prefixes, frozenset(places)


_REGIONS, _BRANCH_PLACES = _region_table()
_REGION_LENGTHS: dict[str, tuple[int, ...]] = {  # first character -> lengths of the regions it starts
    first: tuple(sorted({len(name) for name in _REGIONS if name[0] == first}, reverse=True))
    for first in {name[0] for name in _REGIONS}
}
_PLACE_LENGTHS = sorted({len(name) for name in _BRANCH_PLACES}, reverse=True)
_TOWN_AFTER_COUNTY = re.compile(r"[\u4e00-\u9fff]{2,3}?(?:镇|街道)")

# -- legal forms, longest first; the value is how the form is reported
_LEGAL_FORMS: dict[str, str] = {
    "合伙企业（特殊普通合伙）": "合伙企业（特殊普通合伙）",
    "合伙企业（普通合伙）": "合伙企业（普通合伙）",
    "合伙企业（有限合伙）": "合伙企业（有限合伙）",
    "（特殊普通合伙）": "合伙企业（特殊普通合伙）",
    "（普通合伙）": "合伙企业（普通合伙）",
    "（有限合伙）": "合伙企业（有限合伙）",
    "合伙企业": "合伙企业",
    "个人独资企业": "个人独资企业",
    "（个体工商户）": "个体工商户",
    "个体工商户": "个体工商户",
    "股份经济合作社": "股份经济合作社",
    "农民专业合作社": "农民专业合作社",
    "专业合作社": "专业合作社",
    "经济合作社": "经济合作社",
    "合作社": "合作社",
    "股份有限公司": "股份有限公司",
    "有限责任公司": "有限公司",
    "有限公司": "有限公司",
    "股份公司": "股份公司",
    "总公司": "总公司",
    "公司": "公司",
}
_LEGAL_FORMS_BY_LAST: dict[str, tuple[str, ...]] = {
    last: tuple(form for form in _LEGAL_FORMS if form[-1] == last)
    for last in {form[-1] for form in _LEGAL_FORMS}
}
_COMPANY_FORM = re.compile(r"(?<![分支])(?:股份有限公司|有限责任公司|有限公司|股份公司|总公司|公司)")

# -- branches
_BRANCH_WORDS = tuple(
    _words("分公司 支公司 分店 分厂 分行 支行 营业所 分理处 办事处 代表处 营业部 分部 分社 分所 分中心")
    + _words("分院 分校 分场")
)
_UNITS_AFTER_FORM = (*_BRANCH_WORDS, "店", "厂", "部", "处", "所", "站", "中心", "行", "社", "场", "院")
_ORDINAL_END = re.compile(r"(?:第[一二三四五六七八九十百零〇两\d]+|[\d一二三四五六七八九十百零〇]+号)$")
_STREET_END = re.compile(r"[\u4e00-\u9fff]{2}[东西南北中]?(?:路|街|大道|巷|广场)$")

# -- words that cannot tell two companies apart: a core made only of these keeps its region
_GENERIC_WORDS = frozenset(
    _words(
        "服装 服饰 纺织 针织 羊毛衫 防寒服 家纺 织造 印染 鞋业 皮革 箱包 机械 设备 机电 电机 电器 电气 电子"
        " 电缆 线缆 光电 照明 仪器 仪表 自动化 智能 精密 模具 五金 工具 铸造 钢铁 金属 冶金 钢结构 化工 塑料"
        " 精细化工"
        " 橡胶 涂料 玻璃 陶瓷 水泥 建材 材料 新材料 包装 纸业 印刷 印务 彩印 食品 饮料 酒业 乳业 粮食 粮油"
        " 农产品 水产 养殖 畜牧 种植 农机 苗木 花卉 蔬菜 茶叶 家具 科技 技术 信息 网络 软件 数据 通信 电信"
        " 移动 联通 邮政 生物 医药 药业 药房 大药房 医疗 器械 医院 卫生院 健康 养老 家政 保洁 保安 物业 置业"
        " 房地产 房产 开发 建筑 建设 工程 装饰 装潢 安装 市政 园林 绿化 环保 环境 节能 能源 新能源 电力 供电"
        " 热电 燃气 煤气 石油 石化 自来水 供水 水务 污水 处理 港务 港口 交通 运输 客运 货运 公交 物流 快递"
        " 仓储 汽车 销售 租赁 维修 驾驶 驾校 贸易 商贸 工贸 外贸 进出口 商务 商业 商城 商场 百货 超市 购物"
        " 连锁 便利店 餐饮 酒店 宾馆 饭店 旅游 旅行社 文化 传媒 广告 影视 艺术 体育 教育 培训 咨询 管理"
        " 服务 劳务 人力资源 中介 投资 控股 集团 实业 发展 产业 经济 国际 资产 财务 会计 审计 税务 律师 法律"
        " 设计 规划 监理 检测 银行 农村 农业 工商 中国 人民 人寿 财产 保险 证券 信托 基金 担保 小额贷款"
        " 融资 期货 供销 烟草 盐业 水利 广播 电视 出版 报社 书店 新华 城市 城乡 乡村 再生资源 回收 公用事业"
        " 厂 店 部 行 社 所 站 院 馆 场 中心 经营部 门市部 服务部 商行 商店 工作室 事务所 研究所 研究院"
    )
)
_GENERIC_LONGEST = max(map(len, _GENERIC_WORDS))
_GENERIC_FIRST = frozenset(word[0] for word in _GENERIC_WORDS)

_BRACKETS_FROM = {"(": "（", "[": "（", "{": "（", "【": "（", "〔": "（", "〖": "（",
                  ")": "）", "]": "）", "}": "）", "】": "）", "〕": "）", "〗": "）"}  # fmt: skip
_BRACKETS = str.maketrans(_BRACKETS_FROM)
_ANY_BRACKET = re.compile("[" + re.escape("".join(_BRACKETS_FROM)) + "]")
_SPACES = re.compile(r"\s+")
_LONE_SPACE = re.compile(r" (?![A-Za-z0-9])|(?<![A-Za-z0-9]) ")
_EDGE_PUNCTUATION = " \"'“”‘’「」『』,，.。;；:：、"
_BRACKETED = re.compile(r"（([^（）]*)）")


class CompanyName(NamedTuple):
    """A company's canonical name and the parts matching compares; everything None for an empty name."""

    name: str | None
    name_core: str | None
    legal_form: str | None
    region: str | None
    is_branch: bool
    branch: str | None


_EMPTY = CompanyName(None, None, None, None, False, None)


def _canonical(text: str) -> str:
    """NFKC, simplified, brackets full-width, spaces gone except between Latin words."""
    text = to_simplified(unicodedata.normalize("NFKC", text))
    if _ANY_BRACKET.search(text):
        text = text.translate(_BRACKETS)
    text = _SPACES.sub(" ", text).strip(_EDGE_PUNCTUATION)
    for _ in range(3):  # a dropped space can bring a letter and an accent together: compose, look again
        if " " not in text:
            break
        text, before = unicodedata.normalize("NFC", _LONE_SPACE.sub("", text)), text
        if text == before:
            break
    return text


def _ends_with_branch_word(text: str) -> bool:
    return text.endswith(_BRANCH_WORDS)


def _branch_start(head: str, word: str) -> int | None:
    """Where the branch part of a name ending in `word` begins, with no legal form to lean on."""
    strong = word != "店"
    start = len(head) - len(word)
    found = _ORDINAL_END.search(head, 0, start) or _STREET_END.search(head, 0, start)
    if found:
        start = found.start()
    while start > 0:  # region and town words before the branch: "常熟分公司", "虞山第一分店"
        for length in _PLACE_LENGTHS:
            if length <= start and head[start - length : start] in _BRANCH_PLACES:
                start -= length
                break
        else:
            break
    if not strong and start == len(head) - len(word):
        return None  # "华盛服装店": a shop, not a branch
    return start


def _split_branch(name: str) -> tuple[str, str | None]:
    """Split off the branch part: "苏州华盛服装有限公司常熟分公司" -> (…"有限公司", "常熟分公司")."""
    if name.endswith("）"):
        opening = name.rfind("（")
        inside = name[opening + 1 : -1]
        if opening > 0 and "（" not in inside and (inside.endswith("店") or _ends_with_branch_word(inside)):
            return name[:opening], inside
    for form in _COMPANY_FORM.finditer(name):
        rest = name[form.end() :]
        if rest and not rest.startswith("（") and rest.endswith(_UNITS_AFTER_FORM):
            return name[: form.end()], rest
    if name.endswith(_BRANCH_WORDS):
        word = next(w for w in _BRANCH_WORDS if name.endswith(w))
    elif name.endswith("店"):
        word = "店"
    else:
        return name, None
    start = _branch_start(name, word)
    if start is None:
        return name, None
    return name[:start], name[start:]


def _split_legal_form(head: str) -> tuple[str, str | None]:
    for form in _LEGAL_FORMS_BY_LAST.get(head[-1:], ()):
        if head.endswith(form):
            return head[: -len(form)], _LEGAL_FORMS[form]
    return head, None


def _region_at(text: str, position: int) -> str | None:
    for length in _REGION_LENGTHS.get(text[position : position + 1], ()):
        token = text[position : position + length]
        if len(token) == length and token in _REGIONS:
            return token
    return None


def _strip_regions(head: str) -> tuple[str, list[str]]:
    """Take region words off the front and out of brackets: "常熟市虞山镇华盛（中国）" -> "华盛"."""
    found: list[str] = []
    position = 0
    while position < len(head):
        token = _region_at(head, position)
        if token is None and found and _REGIONS.get(found[-1], (4, ""))[0] in (2, 3):
            town = _TOWN_AFTER_COUNTY.match(head, position)
            token = town.group() if town and town.end() < len(head) else None
        if token is None:
            break
        found.append(token)
        position += len(token)
    head = head[position:]
    if "（" in head:

        def drop_region(match: re.Match[str]) -> str:
            inside, tokens, at = match.group(1), [], 0
            while at < len(inside) and (token := _region_at(inside, at)) is not None:
                tokens.append(token)
                at += len(token)
            if not tokens or at < len(inside):
                return match.group()
            found.extend(tokens)
            return ""

        head = _BRACKETED.sub(drop_region, head)
    return head, found


def _is_generic(core: str) -> bool:
    """Whether the core is made only of industry and generic words: "农村商业银行" yes, "华盛服装" no."""
    if not core:
        return True
    if core[0] not in _GENERIC_FIRST:  # the usual brand-first core fails here at once
        return False
    reachable = [True] + [False] * len(core)
    for end in range(1, len(core) + 1):
        for length in range(1, min(end, _GENERIC_LONGEST) + 1):
            if reachable[end - length] and core[end - length : end] in _GENERIC_WORDS:
                reachable[end] = True
                break
    return reachable[-1]


def _most_specific(regions: list[str]) -> str | None:
    """The short form of the most specific region above town level: ["江苏省", "常熟市"] -> "常熟"."""
    ranked = [(_REGIONS[r][0], i, _REGIONS[r][1]) for i, r in enumerate(regions) if r in _REGIONS]
    ranked = [entry for entry in ranked if entry[0] <= 3]
    return max(ranked)[2] if ranked else None


def _normalize(text: str) -> CompanyName:
    name = _canonical(text)
    if not name:
        return _EMPTY
    head, branch = _split_branch(name)
    head, legal_form = _split_legal_form(head)
    head, regions = _strip_regions(head)
    core = head.replace("（", "").replace("）", "")
    if regions and _is_generic(core):
        core = (_most_specific(regions) or "") + core
    return CompanyName(name, core or None, legal_form, "".join(regions) or None, branch is not None, branch)


@lru_cache(maxsize=_CACHE_SIZE)
def _normalize_cached(text: str) -> CompanyName:
    return _normalize(text)


def normalize_company_name(text: str) -> CompanyName:
    """Return the canonical name, core, legal form, region and branch: "常熟市华盛服装厂" -> 华盛服装厂."""
    return _normalize_cached(text)
