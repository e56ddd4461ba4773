"""Write the departmental export files the ingest tests read, as offices hand them over.

Run `python tests/data/make_exports.py` to write them again; the files are committed, so the tests
never need it. The .xlsx workbook is written by hand (an .xlsx is a zip of XML parts), so no
spreadsheet library is needed to make it: text cells inline, numbers as numbers, a date as Excel's
day count with a date format, and a title row above the header, as exports from office systems
often have. The same rows as an older .xls are written with xlwt when it is installed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(base: str) -> str:
    """An 18-character resident ID: the 17 digits with their GB 11643 check character."""
    total = sum(int(digit) * weight for digit, weight in zip(base, _WEIGHTS, strict=True))
    return base + "10X98765432"[total % 11]


# 户籍 export of a police station: a title row, Chinese headers, 性别 as 1/2, dates in two ways.
HOUSEHOLD_TITLE = "常熟市虞山派出所 户籍人口信息导出"
HOUSEHOLD_HEADER = ["人员编号", "姓名", "性别", "公民身份号码", "出生日期", "联系电话", "现住址", "户籍地址"]
HOUSEHOLD_ROWS: list[list[object]] = [
    ["HJ0001", "王伟", "1", resident_id("32058119850302123"), "1985年03月02日", 13912345678,
     "江苏省常熟市虞山街道海虞北路18号", "江苏省常熟市虞山街道海虞北路18号"],
    ["HJ0002", "李娜", "2", resident_id("32058119900715002"), date(1990, 7, 15), "13812345678",
     "常熟市琴川街道泉辛新村16幢1单元702室", "常熟市琴川街道泉辛新村16幢1单元702室"],
    ["HJ0003", "张敏", "2", resident_id("32058119771130002"), "19771130", "",
     "常熟市古里镇杨山村北港组3号", "常熟市古里镇杨山村北港组3号"],
    ["HJ0004", "陈建国", "1", resident_id("32058119600228001"), "1960年2月28日", "0512-52345678",
     "常熟市海虞镇福山大街5号", "常熟市海虞镇福山大街5号"],
]  # fmt: skip

HOUSEHOLD_MAPPING = """\
# 户籍人口信息导出 of 虞山派出所: the station's record number is the key, 性别 is coded 1/2.
[columns]
"人员编号" = "key"

[values.gender]
"1" = "男"
"2" = "女"

[dates]
birth_date = ["%Y年%m月%d日", "%Y%m%d"]
"""

# A migrant registry's CSV in GB18030 with the headers the hub knows by itself.
MIGRANT_HEADER = ["编号", "姓名", "身份证号", "性别", "手机号", "居住地址", "户籍地"]
MIGRANT_ROWS = [
    [
        "LD001",
        "赵磊",
        resident_id("41272119880506123"),
        "男",
        "13605121234",
        "常熟市虞山街道枫林路8号",
        "河南省周口市",
    ],
    [
        "LD002",
        "钱芳",
        resident_id("34222419920101004"),
        "女",
        "13705121235",
        "常熟市东南街道新安江路1号",
        "安徽省宿州市",
    ],
    [
        "LD003",
        "孙强",
        resident_id("51072219871111001"),
        "男",
        "13805121236",
        "常熟市碧溪街道通港路21号",
        "四川省绵阳市",
    ],
    [
        "LD004",
        "李秀英",
        resident_id("41272119800101006"),
        "女",
        "",
        "常熟市虞山街道枫林路8号",
        "河南省周口市",
    ],
    [
        "LD005",
        "周杰",
        resident_id("36232219950606001"),
        "男",
        "13905121238",
        "常熟市梅李镇通江路3号",
        "江西省上饶市",
    ],
    [
        "LD006",
        "吴婷",
        resident_id("43052419930303002"),
        "女",
        "15005121239",
        "常熟市支塘镇任阳街2号",
        "湖南省邵阳市",
    ],
    [
        "LD007",
        "郑浩",
        resident_id("52240119910808003"),
        "男",
        "15105121240",
        "常熟市辛庄镇张桥路6号",
        "贵州省毕节市",
    ],
    [
        "LD008",
        "王丽",
        resident_id("45088119940909004"),
        "女",
        "15205121241",
        "常熟市尚湖镇练塘街9号",
        "广西壮族自治区贵港市",
    ],
]

# A grid worker's sheet saved as CSV: most rows lost their record number or a column.
GRID_BAD = """\
key,name,address,phone
W01,黄建华,泉辛新村16-1-702,13912340001
,吴秀兰,杨山村三号,13912340002
,胡国强,北景社区12幢,13912340003
W04,曹敏,海虞北路18号
,沈红,福山大街5号,13912340005
W06,蒋伟,枫林路8号,13912340006,多出的一列
,韩梅,任阳街2号,13912340007
"""


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref: str, value: object) -> str:
    if isinstance(value, date):
        serial = (value - date(1899, 12, 30)).days
        return f'<c r="{ref}" s="1"><v>{serial}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = escape(str(value))
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def write_xlsx(path: Path, rows: Sequence[Sequence[object]]) -> None:
    """A one-sheet workbook of `rows` (None or "" leaves a cell out)."""
    body = "".join(
        f'<row r="{r}">'
        + "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(row) if v not in (None, ""))
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{package}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>",
        "_rels/.rels": f'<Relationships xmlns="{package}/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
        '<sheet name="人口信息" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{package}/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'<styleSheet xmlns="{main}"><fonts count="1"><font/></fonts>'
        '<fills count="1"><fill/></fills><borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs>'
        "</styleSheet>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData>{body}</sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 0, 0, 0))  # the same bytes every run
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml)


def write_xls(path: Path, rows: Sequence[Sequence[object]]) -> bool:
    """The same as an Excel 97–2003 .xls, if xlwt is installed (`pip install xlwt`); whether written.

    The older format is what many office systems still export. xlwt is not one of the hub's
    dependencies: the committed .xls was written by it once.
    """
    try:
        import xlwt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("人口信息")
    as_date = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write(r, c, value, as_date)
            elif value not in (None, ""):
                sheet.write(r, c, value)
    book.save(str(path))
    return True


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    return "".join(",".join(cells) + "\r\n" for cells in [header, *rows])


def main() -> None:
    household: list[Sequence[object]] = [[HOUSEHOLD_TITLE], HOUSEHOLD_HEADER, *HOUSEHOLD_ROWS]
    write_xlsx(HERE / "household_export.xlsx", household)
    write_xls(HERE / "household_export.xls", household)
    (HERE / "household_export.toml").write_text(HOUSEHOLD_MAPPING, encoding="utf-8")
    (HERE / "migrants_gb18030.csv").write_bytes(csv_text(MIGRANT_HEADER, MIGRANT_ROWS).encode("gb18030"))
    (HERE / "grid_mostly_bad.csv").write_text(GRID_BAD, encoding="utf-8")


if __name__ == "__main__":
    main()
