"""Weighted vocabularies of the demo city: surnames, given names by era, places, companies, homophones.

Every weighted pool is expanded once at import into a tuple where an item appears as often as its
weight, so drawing is one `rng.choice` call: the generators draw tens of millions of times at 1M
persons. Vocabularies are written as space-separated specs, "王:710 李:700", to stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COMMON_FULL_NAMES",
    "COMPANY_BRAND_FIRST",
    "COMPANY_BRAND_SECOND",
    "COMPANY_FORMS",
    "COMPANY_INDUSTRIES",
    "COMPOUND_SUFFIXES",
    "ERAS",
    "HAMLET_SUFFIXES",
    "HOMETOWN_TOWNS",
    "HOMETOWN_VILLAGES",
    "HOMOPHONES",
    "INDUSTRIAL_PARKS",
    "LOCAL_SURNAMES",
    "MIGRANT_REGIONS",
    "MINORITY_NAMES",
    "MOBILE_PREFIXES",
    "NATIONAL_SURNAMES",
    "PLACE_WORDS_FIRST",
    "PLACE_WORDS_SECOND",
    "RESIDENT_REGIONS",
    "ROAD_SUFFIXES",
    "ROAD_WORDS",
    "TOWNS",
    "XINJIANG_REGION",
    "Era",
    "Region",
    "Town",
    "expand",
]


def _pairs(spec: str, separator: str) -> dict[str, str]:
    return dict(token.split(separator) for token in spec.split())


def expand(spec: str) -> tuple[str, ...]:
    """Expand "王:7 李:5 欧阳" into a tuple where each item repeats by its weight (default 1)."""
    items: list[str] = []
    for token in spec.split():
        word, _, weight = token.partition(":")
        items.extend([word] * (int(weight) if weight else 1))
    return tuple(items)


# Surnames weighted per ten thousand people, roughly in census order; the local pool leans to the
# names of the lower Yangtze (顾, 陆, 钱, 沈, 殷, 浦, 瞿, 归). Compound surnames and the polyphonic
# ones (曾 zeng, 单 shan, 解 xie, 仇 qiu, 区 ou, 查 zha, 朴 piao) are there on purpose: they are where
# name keys and pinyin go wrong.
_RARE_SURNAMES = (
    "欧阳:3 司马:1 诸葛:1 上官:1 东方:1 皇甫:1 司徒:1 慕容:1 令狐:1 尉迟:1 曾:30 单:4 解:3 仇:3 区:1"
    " 查:3 朴:2 乐:2 盖:1 缪:4 覃:3 华:6 纪:6 翟:3"
)
NATIONAL_SURNAMES = expand(
    "王:710 李:700 张:670 刘:540 陈:450 杨:310 黄:220 赵:200 吴:200 周:190 徐:170 孙:150 马:150 朱:130"
    " 胡:130 郭:110 何:110 高:100 林:100 罗:90 郑:80 梁:80 谢:70 宋:60 唐:60 许:60 韩:60 冯:50 邓:50"
    " 曹:50 彭:50 肖:50 田:40 董:40 袁:40 潘:40 于:40 蒋:40 蔡:40 余:40 杜:40 叶:40 程:40 苏:30 魏:30"
    " 吕:30 丁:30 任:30 沈:30 姚:30 卢:30 姜:30 崔:30 钟:30 谭:30 陆:30 汪:30 范:30 金:30 石:30 廖:20"
    " 贾:20 夏:20 韦:20 付:20 方:20 白:20 邹:20 孟:20 熊:20 秦:20 邱:20 江:20 尹:20 薛:20 闫:20 段:20"
    " 雷:20 侯:20 龙:20 史:20 陶:20 黎:20 贺:20 顾:20 毛:20 郝:20 龚:20 邵:20 万:20 钱:20 严:20 武:10"
    " 戴:10 莫:10 孔:10 向:10 汤:10 常:10"
    " " + _RARE_SURNAMES
)
LOCAL_SURNAMES = expand(
    "陈:420 王:400 张:380 朱:300 周:290 徐:280 钱:260 顾:260 陆:250 沈:240 吴:230 李:220 蒋:160 殷:110"
    " 季:110 邵:100 陶:100 浦:80 瞿:80 俞:100 归:70 翁:70 金:120 杨:120 黄:120 孙:120 曹:100 范:80 严:70"
    " 姚:90 庞:60 薛:60 冯:60 许:90 戴:60 龚:60 邹:50 胡:80 刘:120 赵:90 马:40 郭:40 何:50 高:50 汤:50"
    " 叶:60 丁:50 袁:50 惠:30 虞:30"
    " " + _RARE_SURNAMES
)


@dataclass(frozen=True, slots=True)
class Era:
    """Given-name fashions of the cohort born up to `until_year`: single and two-character names."""

    until_year: int
    single_share: float
    male_single: tuple[str, ...]
    female_single: tuple[str, ...]
    male_first: tuple[str, ...]
    male_second: tuple[str, ...]
    female_first: tuple[str, ...]
    female_second: tuple[str, ...]
    male_fixed: tuple[str, ...]
    female_fixed: tuple[str, ...]


# The single-character pools are steep on purpose so that 王伟, 张敏, 李娜 repeat thousands of times.
ERAS = (
    Era(
        1959,
        0.35,
        expand("明:5 华:6 林:4 根:4 福:3 荣:3 金:3 海:2 生:3 龙:2 兴:2 德:2 强:2 军:2 平:3"),
        expand("英:8 珍:5 兰:6 芳:4 妹:3 娣:3 凤:4 秀:3 琴:3 梅:3 红:2 华:3 萍:2 云:2"),
        expand("建:6 国:6 德:4 福:4 金:5 志:3 永:3 荣:3 根:2 阿:2 长:3 宝:3 正:2 洪:2"),
        expand("国:4 华:6 明:5 林:5 根:6 生:5 荣:4 兴:3 良:3 昌:3 元:3 发:3 泉:3 宝:3"),
        expand("秀:8 桂:6 玉:5 凤:4 金:4 美:3 翠:3 彩:3 巧:2 菊:3 月:2 素:2 阿:2 小:2"),
        expand("英:10 珍:6 兰:6 芳:4 妹:5 娣:4 华:3 梅:3 琴:3 宝:2 仙:2 花:2 娥:2 凤:3"),
        expand("建国:6 国华:4 建华:4 志强:3 金根:3 福林:3 国强:3 德明:3 永林:2 荣生:2 阿大:1"),
        expand("秀英:8 桂英:6 秀珍:5 玉兰:5 秀兰:4 凤英:4 桂芳:3 金妹:3 玉珍:3 美英:2 阿妹:1"),
    ),
    Era(
        1984,
        0.45,
        expand("伟:14 军:9 勇:8 强:7 斌:5 杰:4 华:6 平:5 刚:5 明:6 峰:5 涛:4 辉:4 健:4 东:4 波:4"),
        expand("敏:12 静:9 丽:10 红:8 艳:8 芳:9 娟:7 燕:6 霞:6 萍:5 琴:5 英:4 梅:4 华:4 玲:4 洁:3"),
        expand("建:6 志:5 国:4 海:5 晓:5 春:4 永:4 卫:3 红:3 新:3 文:3 小:4 立:3 学:3 振:2"),
        expand("华:8 明:7 军:6 平:6 强:5 东:5 峰:5 林:5 刚:4 伟:5 荣:3 忠:3 兵:3 良:3 成:3"),
        expand("丽:5 晓:6 红:5 春:4 海:4 雪:3 美:3 秀:3 建:3 小:4 玉:3 金:3 文:2 冬:2 彩:2"),
        expand("华:6 红:5 芳:6 英:4 燕:5 萍:5 琴:4 娟:5 霞:4 梅:4 玲:4 丽:4 艳:4 平:3 云:3"),
        expand("建华:5 志强:5 建军:4 海峰:3 建平:3 国平:3 卫东:3 晓东:3 建明:3 文华:2 振华:2"),
        expand("丽华:4 海燕:5 春燕:3 秀芳:3 晓红:4 丽萍:3 红梅:3 美华:2 建英:2 雪芳:2 晓燕:3"),
    ),
    Era(
        2004,
        0.35,
        expand("磊:10 杰:9 超:7 鹏:7 浩:5 伟:7 强:4 斌:4 涛:5 亮:4 俊:4 勇:3 飞:5 龙:3 辉:3 宇:4"),
        expand("婷:10 静:8 敏:7 娜:9 丹:6 洁:6 倩:5 颖:5 琳:5 雪:5 燕:4 佳:3 玲:3 晶:4 蕾:3 璐:3"),
        expand("俊:5 志:4 家:4 晓:5 佳:4 文:4 子:3 嘉:3 建:3 天:3 振:2 宇:3 思:2 少:2 明:3"),
        expand("杰:7 伟:6 豪:5 鹏:5 磊:4 超:4 涛:4 峰:4 辉:4 斌:3 龙:4 宇:4 飞:4 明:3 凯:4"),
        expand("晓:6 佳:5 雨:4 思:4 梦:4 雪:4 丽:3 欣:3 婷:3 诗:3 嘉:3 文:3 静:3 美:3 秋:2"),
        expand("婷:8 怡:5 琪:5 洁:4 颖:5 雪:4 琳:5 倩:4 丹:4 燕:3 敏:4 慧:4 娟:3 静:4 玲:3"),
        expand("俊杰:4 家豪:3 志伟:3 晓东:3 文杰:3 嘉豪:3 子豪:2 天宇:2 建伟:2 振宇:2 明辉:2"),
        expand("佳怡:3 雨婷:3 思琪:3 晓燕:3 梦婷:3 婷婷:4 欣怡:3 诗雨:2 丽娟:2 雪莲:2 佳琪:3"),
    ),
    Era(
        9999,
        0.12,
        expand("浩:4 宇:4 轩:3 睿:3 泽:3 晨:3 博:3 凯:2 航:2 鑫:2 涵:2 杰:2"),
        expand("涵:4 萱:3 悦:3 怡:3 琪:3 彤:3 妍:3 欣:3 诺:2 瑶:2 桐:2 可:2"),
        expand("子:6 浩:6 宇:5 梓:5 俊:4 奕:3 睿:3 一:3 沐:3 皓:3 博:3 家:3 天:2 晨:2 思:2"),
        expand("轩:7 宇:6 涵:4 睿:4 辰:5 泽:4 然:4 航:3 铭:3 阳:3 杰:3 博:3 宸:4 霖:2 凯:2"),
        expand("梓:6 欣:5 子:5 雨:5 诗:4 思:4 一:3 可:3 语:3 佳:3 若:3 紫:2 梦:2 依:3 晨:2"),
        expand("涵:7 萱:6 怡:5 桐:4 琪:4 妍:4 悦:4 彤:3 瑶:3 诺:3 汐:3 然:3 馨:3 雯:3 琳:2"),
        expand("子轩:5 浩宇:5 宇轩:4 浩然:4 梓轩:4 子涵:3 俊熙:2 一鸣:2 沐宸:3 奕辰:3 睿泽:2"),
        expand("子涵:5 梓涵:5 欣怡:5 一诺:4 雨桐:4 梓萱:4 诗涵:3 可馨:3 思涵:3 语桐:2 若汐:3"),
    ),
)

# Names that recur by the thousand in any Chinese city; used to seed deliberate namesakes.
COMMON_FULL_NAMES = expand(
    "王伟:9 张伟:8 王芳:7 李伟:7 李娜:6 张敏:6 李静:5 王静:5 刘伟:5 王秀英:4 张丽:4 李强:4 王敏:4 王磊:4"
    " 李军:3 张勇:3 陈静:3 王勇:3 张杰:3 刘洋:3 王艳:3 李敏:3 陈伟:3 张静:3 王丽:3"
)

# Minority names keep the middle dot; they come with a Xinjiang region code. "name/sex".
MINORITY_NAMES: tuple[tuple[str, str], ...] = tuple(
    _pairs(
        "阿依古丽·买买提/F 艾力·吐尔逊/M 古丽娜尔·阿不都/F 买买提·艾山/M 迪丽拉·艾力/F 热依汗·吾斯曼/F"
        " 艾合买提·托乎提/M 努尔比亚·阿布拉/F 阿布都热依木·卡德尔/M 帕提古丽·吐尔洪/F",
        "/",
    ).items()
)

# Hand-made homophone table: what a grid worker writes when they hear a name rather than see it.
HOMOPHONES: dict[str, tuple[str, ...]] = {
    key: tuple(value)
    for key, value in _pairs(
        "伟=玮炜苇 敏=民闽 静=婧靖晶 丽=莉俐利 娟=鹃涓 军=君均 杰=洁捷 磊=蕾垒 芳=方舫 华=桦骅 明=鸣铭"
        " 峰=锋丰 红=虹宏鸿 英=瑛莹 琴=勤芹 丹=旦 林=琳霖 建=健剑 国=帼 强=蔷 勇=永涌 斌=彬滨 婷=庭亭"
        " 燕=艳雁 霞=侠 萍=平苹 梅=玫媚 兰=岚澜 秀=绣琇 玲=铃龄 云=芸韵 晨=辰臣 浩=皓昊 宇=雨羽禹 涛=滔韬"
        " 鹏=朋 辉=晖 刚=钢纲 平=萍苹 志=智治 文=雯闻 欣=馨新鑫 怡=仪宜 佳=嘉家 子=梓紫 涵=晗含 轩=萱宣"
        " 娜=纳 倩=茜 颖=影莹 琪=琦淇 珍=贞真 凤=风 荣=蓉容 根=耕 生=升 妹=美 超=潮 亮=量 洁=杰捷 张=章"
        " 陈=程 王=汪 李=黎 刘=柳 杨=阳 黄=皇 徐=许 周=邹 沈=申 陆=路卢 顾=古 钱=前 吴=伍 朱=诸 蒋=姜"
        " 殷=尹 季=纪 俞=于余 邵=肖 孙=荪",
        "=",
    ).items()
}


@dataclass(frozen=True, slots=True)
class Town:
    """A town or subdistrict of the city; `old_name` is what old company names still call it."""

    name: str
    code: int
    urban: bool
    weight: int
    old_name: str


TOWNS = (
    Town("虞山街道", 1, True, 18, "虞山镇"),
    Town("常福街道", 2, True, 8, ""),
    Town("琴川街道", 3, True, 10, ""),
    Town("莫城街道", 4, True, 5, "莫城镇"),
    Town("碧溪街道", 5, True, 7, "碧溪镇"),
    Town("东南街道", 6, True, 8, ""),
    Town("梅李镇", 7, False, 6, "梅李镇"),
    Town("海虞镇", 8, False, 7, "海虞镇"),
    Town("古里镇", 9, False, 6, "古里镇"),
    Town("沙家浜镇", 10, False, 4, "沙家浜镇"),
    Town("支塘镇", 11, False, 5, "支塘镇"),
    Town("董浜镇", 12, False, 4, "董浜镇"),
    Town("辛庄镇", 13, False, 6, "辛庄镇"),
    Town("尚湖镇", 14, False, 6, "尚湖镇"),
)

# Two-character place words are built from these halves: communities, villages, compounds.
PLACE_WORDS_FIRST = tuple("东西南北新金银福寿兴隆泰安永丰长华庆康平和锦翠碧琴虞枫湖星花香紫天美盛江海梅菱莲")
PLACE_WORDS_SECOND = tuple("桥塘浜泾港湖山园庄门坝墩溪河里湾苑城林景阳泉岸洲田亭")
COMPOUND_SUFFIXES = expand("小区:20 苑:15 花园:25 新村:20 家园:15 公寓:5")
HAMLET_SUFFIXES = expand("家宅:10 家桥:3 家浜:3 家埭:2 家湾:2")
ROAD_WORDS = expand(
    "黄河 长江 珠江 湘江 衡山 泰山 华山 嵩山 金沙江 青墩塘 枫林 海虞 虞山 琴川 书院 方塔 新颜 通港 东南"
    " 世纪 昆承 湖山 沿江 滨江 梅李 海城 港城 兴福 翁庄 莫城 谢桥 元和 常昆 新莲 中山 人民 建设 解放 和平"
    " 文化 学前 前进 工业 商城 富春江 漓江 闽江 嘉陵江 辽河 淮河 汉江 黄浦江 长春 天山 峨眉 庐山 太行"
    " 祁连 南沙 北新 甸桥 报慈 县南 县北 西泾 东环 南环 北环 西环 白雪 红枫 杨园 福山 王市 周行 珍门 何市"
    " 练塘 徐市 淼泉 碧溪 浒浦 白茆 唐市"
)
ROAD_SUFFIXES = expand("路:70 街:12 巷:8 大道:10")
INDUSTRIAL_PARKS = ("常熟经济技术开发区", "常熟高新技术产业开发区", "常熟国家大学科技园", "常熟服装城")

COMPANY_BRAND_FIRST = tuple("华恒永金宏鑫隆天振裕泰瑞富嘉昌兴盛达通源丰利顺德森正海虞琴新中东")
COMPANY_BRAND_SECOND = tuple("盛通达源丰利发顺德森泰昌兴隆宇辉誉鼎威诚信安邦博创越峰腾翔")
COMPANY_INDUSTRIES = expand(
    "服装:12 服饰:6 纺织:8 针织:6 羊毛衫:4 防寒服:2 机械:6 电子:5 科技:10 贸易:8 商贸:6 建材:3 化工:2"
    " 塑料:3 五金:3 物流:4 餐饮管理:3 房地产开发:2 建筑工程:3 装饰工程:3 印染:2 汽车销售:2 信息技术:3"
    " 环保科技:2 新材料:2 食品:3 家具:2 电器:2 包装材料:2"
)
COMPANY_FORMS = expand("有限公司:80 有限责任公司:12 股份有限公司:8")

MOBILE_PREFIXES = expand(
    "139:8 138:8 137:6 136:5 135:5 134:2 150:4 151:4 152:3 157:2 158:4 159:4 182:3 183:2 187:4 188:3"
    " 130:3 131:3 132:2 155:3 156:3 185:2 186:4 133:2 153:2 180:2 181:2 189:3 177:2 199:2 198:1 166:1"
    " 173:1 176:2"
)


@dataclass(frozen=True, slots=True)
class Region:
    """A county elsewhere in China: its resident-ID region code and its place name."""

    code: str
    name: str


def _regions(spec: str) -> tuple[Region, ...]:
    regions: list[Region] = []
    for token in spec.split():
        code, name, weight = token.split("/")
        regions.extend([Region(code, name)] * int(weight))
    return tuple(regions)


# Where the city's migrant workers come from, weighted: "region code/place name/weight".
MIGRANT_REGIONS = _regions(
    "341221/安徽省阜阳市临泉县/9 341322/安徽省宿州市萧县/7 342221/安徽省宿州市砀山县/4"
    " 341226/安徽省阜阳市颍上县/5 411323/河南省南阳市淅川县/5 412723/河南省周口市商水县/5"
    " 411527/河南省信阳市淮滨县/4 510922/四川省遂宁市射洪县/5 511321/四川省南充市南部县/4"
    " 522422/贵州省毕节市大方县/5 522426/贵州省毕节市纳雍县/3 362329/江西省上饶市余干县/4"
    " 321323/江苏省宿迁市泗阳县/6 320721/江苏省连云港市赣榆县/4 320826/江苏省淮安市涟水县/4"
    " 370826/山东省济宁市微山县/2 421127/湖北省黄冈市黄梅县/3 430524/湖南省邵阳市隆回县/3"
    " 500236/重庆市奉节县/3 452226/广西壮族自治区来宾市武宣县/1"
)
XINJIANG_REGION = Region("653101", "新疆维吾尔自治区喀什地区喀什市")
# Residents registered in the city but born elsewhere in Suzhou or Jiangsu keep their birth region.
RESIDENT_REGIONS = expand("320581:88 320582:2 320583:2 320585:1 320506:1 320507:1 320802:1 321323:1 320681:1")
HOMETOWN_TOWNS = expand("城关镇:5 新集镇 王店乡 李庄镇 高庙乡 张集镇 白果镇 太平镇 龙山镇 马桥镇 杨桥镇")
HOMETOWN_VILLAGES = expand("王庄村 李楼村 张营村 陈湾村 刘集村 赵岗村 孙圩村 周寨村 黄桥村 吴庄村 红星村")
