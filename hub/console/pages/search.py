"""The search page: one box for a name, an ID number, a phone, an address, a credit code or a doorplate
code, the kind of the input guessed (or chosen), and the entities found, best first.

It calls the API's searches and lookups, so a search by a personal identifier needs `pii:read` or
`pii:lookup` here as there (the refusal is shown with its code) and is written to the access log.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from hub.console.app import GraphError, Page, page_route
from hub.normalize.identifiers import parse_resident_id, parse_uscc

__all__ = ["ROUTES", "guess"]

FIRST = 20
MODES = ("auto", "name", "id_number", "phone", "address", "company", "uscc", "doorplate")
_PERSON = "id name idNumber birthDate phone addresses { relation address { text } }"
_COMPANY = "id name uscc legalForm"


def _persons(argument: str) -> str:
    """The persons found by `argument`, best first, with the values a steward tells them apart by."""
    return f"persons: searchPersons({argument}: $q, first: {FIRST}) {{ score person {{ {_PERSON} }} }}"


_COMPANIES = (
    f"companies: searchLegalEntities(name: $q, first: {FIRST}) {{ score legalEntity {{ {_COMPANY} }} }}"
)
_ADDRESSES = (
    f"addresses: searchAddresses(text: $q, first: {FIRST}) {{ score address {{ id text doorplateCode }} }}"
)
# Named, so that the access log says which search a row was.
_QUERIES = {
    "name": f"query SearchByName($q: String!) {{ {_persons('name')} {_COMPANIES} }}",
    "company": f"query SearchLegalEntities($q: String!) {{ {_COMPANIES} }}",
    "id_number": f"query SearchByIdNumber($q: String!) {{ {_persons('idNumber')} }}",
    "phone": f"query SearchByPhone($q: String!) {{ {_persons('phone')} }}",
    "address": f"query SearchAddresses($q: String!) {{ {_ADDRESSES} }}",
    "uscc": "query LegalEntityByUscc($q: String!) {"
    f" company: legalEntityByUscc(uscc: $q) {{ {_COMPANY} }} }}",
    "doorplate": "query AddressByDoorplateCode($q: String!) {"
    " address: addressByDoorplateCode(doorplateCode: $q) { id text doorplateCode } }",
}
_ADDRESS_WORDS = re.compile(r"[省市区县镇乡街道路街巷弄村组号幢栋楼单元室]")
_COMPANY_WORDS = re.compile(r"(公司|厂|店|部|中心|合作社|事务所|商行|集团)$")


def guess(text: str) -> str:
    """What a search text most likely is: a credit code or an ID number (by their check characters), a
    doorplate code (a long run of digits that is neither), a phone, an address, a company or a name."""
    compact = "".join(c for c in unicodedata.normalize("NFKC", text) if not c.isspace()).upper()
    if len(compact) == 18 and parse_uscc(compact).valid:
        return "uscc"
    if len(compact) in (15, 18) and (parse_resident_id(compact).valid or _birth_date_inside(compact)):
        return "id_number"  # a mistyped check character is still an ID number
    if len(compact) == 18 and compact.isalnum() and not compact.isdigit():
        return "uscc"
    digits = compact.lstrip("+").replace("-", "")
    if digits.isdigit():
        return "doorplate" if len(digits) >= 15 else "phone"
    if _COMPANY_WORDS.search(compact):
        return "company"
    if _ADDRESS_WORDS.search(compact) or len(compact) > 6:
        return "address"
    return "name"


def _birth_date_inside(compact: str) -> bool:
    """Digits 7 to 14 of an 18-character text read as a birth date of the last 120 years."""
    born = compact[6:14] if len(compact) == 18 else "19" + compact[6:12]
    if not born.isdigit():
        return False
    year, month, day = int(born[:4]), int(born[4:6]), int(born[6:])
    return 1900 <= year <= 2030 and 1 <= month <= 12 and 1 <= day <= 31


async def _search(page: Page) -> Response:
    params = page.request.query_params
    text = params.get("q", "").strip()
    mode = params.get("mode", "auto")
    mode = mode if mode in MODES else "auto"
    kind = guess(text) if text and mode == "auto" else mode
    results: dict[str, Any] = {}
    refused: GraphError | None = None
    if text:
        try:
            results = await page.graph(_QUERIES[kind], q=text)
        except GraphError as exc:
            if exc.code not in ("FORBIDDEN", "BAD_INPUT", "RATE_LIMITED"):
                raise
            refused = exc
    return page.render(
        "search/search.html", text=text, mode=mode, kind=kind, modes=MODES, results=results, refused=refused
    )


ROUTES: list[BaseRoute] = [page_route("/search", _search)]
