"""Company names: canonical name, core without legal form and region, branches kept apart."""

from __future__ import annotations

import opencc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.normalize.companies import CompanyName, normalize_company_name

BRAND_FIRST = "华恒永金宏鑫隆天振裕泰瑞富嘉昌兴盛达源丰利顺德森正海虞琴新中东"
BRAND_SECOND = "盛达源丰利发顺德森泰昌兴隆宇辉誉鼎威诚安邦博创越峰腾翔"
INDUSTRIES = [
    "服装",
    "纺织",
    "针织",
    "羊毛衫",
    "机械",
    "电子",
    "科技",
    "贸易",
    "商贸",
    "建材",
    "化工",
    "五金",
]
PREFIXES = [
    "常熟市",
    "常熟",
    "苏州",
    "苏州市",
    "江苏",
    "江苏省",
    "中国",
    "常熟市虞山镇",
    "常熟市梅李镇",
    "上海",
]
BRACKETED = ["（常熟）", "(常熟)", "（苏州）", "（中国）", "(江苏)"]
_S2T = opencc.OpenCC("s2t")


def create_core(first: str, second: str, industry: str) -> str:
    return first + second + industry


cores = st.builds(
    create_core, st.sampled_from(BRAND_FIRST), st.sampled_from(BRAND_SECOND), st.sampled_from(INDUSTRIES)
)
forms = st.sampled_from(["有限公司", "有限责任公司", "股份有限公司", ""])


@pytest.mark.parametrize(
    ("text", "name", "core", "legal_form", "region", "branch"),
    [
        ("常熟市华盛服装有限公司", "常熟市华盛服装有限公司", "华盛服装", "有限公司", "常熟市", None),
        ("华盛服装（常熟）有限公司", "华盛服装（常熟）有限公司", "华盛服装", "有限公司", "常熟", None),
        ("华盛服装(常熟)有限公司", "华盛服装（常熟）有限公司", "华盛服装", "有限公司", "常熟", None),
        ("华盛服装［常熟］有限公司", "华盛服装（常熟）有限公司", "华盛服装", "有限公司", "常熟", None),
        (" 常熟市 華盛服裝有限公司 ", "常熟市华盛服装有限公司", "华盛服装", "有限公司", "常熟市", None),
        ("常熟市华盛服装有限责任公司", "常熟市华盛服装有限责任公司", "华盛服装", "有限公司", "常熟市", None),
        ("江苏华盛服装股份有限公司", "江苏华盛服装股份有限公司", "华盛服装", "股份有限公司", "江苏", None),
        (
            "常熟市虞山镇华盛服装有限公司",
            "常熟市虞山镇华盛服装有限公司",
            "华盛服装",
            "有限公司",
            "常熟市虞山镇",
            None,
        ),
        (
            "常熟市王市镇华盛五金厂",
            "常熟市王市镇华盛五金厂",
            "华盛五金厂",
            None,
            "常熟市王市镇",
            None,
        ),  # old town
        ("江苏省苏州市常熟市华盛服装有限公司", None, "华盛服装", "有限公司", "江苏省苏州市常熟市", None),
        ("华盛(中国)投资有限公司", "华盛（中国）投资有限公司", "华盛投资", "有限公司", "中国", None),
        ("ABB（中国）有限公司", "ABB（中国）有限公司", "ABB", "有限公司", "中国", None),
        ("华盛服装", "华盛服装", "华盛服装", None, None, None),  # no legal form
        ("华盛服装店", "华盛服装店", "华盛服装店", None, None, None),  # a shop, not a branch
        ("常熟市华盛服装厂", "常熟市华盛服装厂", "华盛服装厂", None, "常熟市", None),  # 厂 stays in the core
        ("华盛服装经营部", "华盛服装经营部", "华盛服装经营部", None, None, None),
        ("华盛（集团）有限公司", "华盛（集团）有限公司", "华盛集团", "有限公司", None, None),
        ("常熟华盛投资合伙企业（有限合伙）", None, "华盛投资", "合伙企业（有限合伙）", "常熟", None),
        (
            "常熟华盛会计师事务所（特殊普通合伙）",
            None,
            "华盛会计师事务所",
            "合伙企业（特殊普通合伙）",
            "常熟",
            None,
        ),
        ("常熟市虞山镇华盛服装店（个体工商户）", None, "华盛服装店", "个体工商户", "常熟市虞山镇", None),
        ("常熟市梅李镇赵市村股份经济合作社", None, "赵市村", "股份经济合作社", "常熟市梅李镇", None),
        # a core of generic words keeps its region, or every bank would be "银行"
        ("江苏银行股份有限公司", None, "江苏银行", "股份有限公司", "江苏", None),
        ("苏州银行股份有限公司", None, "苏州银行", "股份有限公司", "苏州", None),
        ("江苏常熟农村商业银行股份有限公司", None, "常熟农村商业银行", "股份有限公司", "江苏常熟", None),
        ("常熟市自来水有限公司", None, "常熟自来水", "有限公司", "常熟市", None),
        ("常熟自来水有限公司", None, "常熟自来水", "有限公司", "常熟", None),
        # short forms of other counties are brand words
        ("常熟市嘉兴服装有限公司", None, "嘉兴服装", "有限公司", "常熟市", None),
        ("常熟市泰兴纺织有限公司", None, "泰兴纺织", "有限公司", "常熟市", None),
        ("中华书局有限公司", None, "中华书局", "有限公司", None, None),
        # branches
        ("苏州华盛服装有限公司常熟分公司", None, "华盛服装", "有限公司", "苏州", "常熟分公司"),
        ("常熟市华盛服装有限公司虞山分公司", None, "华盛服装", "有限公司", "常熟市", "虞山分公司"),
        ("常熟市华盛服装第一分店", None, "华盛服装", None, "常熟市", "第一分店"),
        ("苏州华盛服装常熟分公司", None, "华盛服装", None, "苏州", "常熟分公司"),
        ("华盛服装沙家浜分公司", None, "华盛服装", None, None, "沙家浜分公司"),
        ("华盛服装分公司", None, "华盛服装", None, None, "分公司"),
        ("华盛服装厂第一分厂", None, "华盛服装厂", None, None, "第一分厂"),
        ("华盛超市黄河路店", None, "华盛超市", None, None, "黄河路店"),
        ("苏果超市虞山店", None, "苏果超市", None, None, "虞山店"),
        ("肯德基(常熟万达店)", "肯德基（常熟万达店）", "肯德基", None, None, "常熟万达店"),
        ("华盛服装有限公司经营部", None, "华盛服装", "有限公司", None, "经营部"),
        ("中国工商银行股份有限公司常熟支行", None, "中国工商银行", "股份有限公司", "中国", "常熟支行"),
        (
            "中国人寿保险股份有限公司常熟市支公司",
            None,
            "中国人寿保险",
            "股份有限公司",
            "中国",
            "常熟市支公司",
        ),
        (
            "国网江苏省电力有限公司常熟市供电分公司",
            None,
            "国网江苏省电力",
            "有限公司",
            None,
            "常熟市供电分公司",
        ),
        (
            "华泰证券股份有限公司常熟海虞北路证券营业部",
            None,
            "华泰证券",
            "股份有限公司",
            None,
            "常熟海虞北路证券营业部",
        ),
    ],
)
def test_normalize_company_name(
    text: str, name: str | None, core: str, legal_form: str | None, region: str | None, branch: str | None
) -> None:
    parsed = normalize_company_name(text)
    assert parsed.name == (name or text)
    assert (parsed.name_core, parsed.legal_form, parsed.region) == (core, legal_form, region)
    assert (parsed.is_branch, parsed.branch) == (branch is not None, branch)


@pytest.mark.parametrize("text", ["", "   ", "\u3000", "。"])
def test_empty_names_are_all_none(text: str) -> None:
    assert normalize_company_name(text) == CompanyName(None, None, None, None, False, None)


def test_every_spelling_of_one_company_has_one_core() -> None:
    spellings = [
        "常熟市华盛服装有限公司",
        "常熟华盛服装有限公司",
        "苏州华盛服装有限公司",
        "江苏华盛服装有限公司",
        "华盛服装（常熟）有限公司",
        "华盛服装(常熟)有限公司",
        "常熟市虞山镇华盛服装有限公司",
        "常熟市華盛服裝有限責任公司",
        "华盛服装有限公司",
        "常熟市华盛服装",
    ]
    assert {normalize_company_name(text).name_core for text in spellings} == {"华盛服装"}


def test_a_branch_is_never_its_head_office() -> None:
    head = normalize_company_name("苏州华盛服装有限公司")
    branch = normalize_company_name("苏州华盛服装有限公司常熟分公司")
    assert head.name_core == branch.name_core
    assert not head.is_branch and branch.is_branch
    assert head.name != branch.name


@given(
    st.text(
        alphabet=BRAND_FIRST + "服装常熟市苏州江苏虞山镇有限责任股份公司分店第一（）()[] ·華裝A1", max_size=16
    )
)
def test_normalizing_twice_changes_nothing(text: str) -> None:
    once = normalize_company_name(text)
    if once.name is not None:
        assert normalize_company_name(once.name) == once


@given(cores, st.sampled_from(PREFIXES), st.sampled_from(BRACKETED), forms)
def test_region_words_do_not_change_the_core(core: str, prefix: str, bracketed: str, form: str) -> None:
    bare = normalize_company_name(core + form)
    assert bare.name_core == core
    assert normalize_company_name(prefix + core + form).name_core == core
    assert normalize_company_name(core + bracketed + form).name_core == core


@given(cores, st.sampled_from(PREFIXES))
def test_limited_liability_company_is_one_legal_form(core: str, prefix: str) -> None:
    short = normalize_company_name(prefix + core + "有限公司")
    long = normalize_company_name(prefix + core + "有限责任公司")
    assert (short.name_core, short.legal_form) == (long.name_core, long.legal_form) == (core, "有限公司")


@given(cores, st.sampled_from(PREFIXES), forms)
def test_traditional_and_simplified_give_the_same_result(core: str, prefix: str, form: str) -> None:
    simplified = prefix + core + form
    assert normalize_company_name(_S2T.convert(simplified)) == normalize_company_name(simplified)


@given(
    cores,
    st.sampled_from(PREFIXES),
    forms,
    st.sampled_from(["常熟分公司", "虞山分公司", "第二分店", "营业部"]),
)
def test_a_branch_keeps_the_core_and_says_so(core: str, prefix: str, form: str, suffix: str) -> None:
    head = normalize_company_name(prefix + core + form)
    branch = normalize_company_name(prefix + core + form + suffix)
    assert branch.is_branch and not head.is_branch
    assert branch.branch == suffix
    assert branch.name_core == head.name_core == core
