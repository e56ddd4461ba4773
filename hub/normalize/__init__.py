"""Pure normalization of identifiers, names, addresses and company names (no database, no web).

parse_resident_id, parse_uscc, parse_phone, parse_date    identifiers.py
normalize_person_name                                     names.py
normalize_company_name                                    companies.py
parse_address, address_keys                               address.py
normalize_record                                          records.py (a whole source record)

These modules are compiled with mypyc when the hub is installed (setup.py); `_compiled` refuses a
compiled module built from an older source.
"""

from hub.normalize import _compiled  # noqa: F401  (first: it checks the compiled modules below)
from hub.normalize.address import ParsedAddress, address_keys, parse_address
from hub.normalize.companies import CompanyName, normalize_company_name
from hub.normalize.identifiers import (
    Phone,
    ResidentId,
    Uscc,
    parse_date,
    parse_phone,
    parse_resident_id,
    parse_uscc,
)
from hub.normalize.names import PersonName, normalize_person_name
from hub.normalize.records import OUTPUT_FIELDS, NormalizedRecord, normalize_record

__all__ = [
    "OUTPUT_FIELDS",
    "CompanyName",
    "NormalizedRecord",
    "ParsedAddress",
    "PersonName",
    "Phone",
    "ResidentId",
    "Uscc",
    "address_keys",
    "normalize_company_name",
    "normalize_person_name",
    "normalize_record",
    "parse_address",
    "parse_date",
    "parse_phone",
    "parse_resident_id",
    "parse_uscc",
]
