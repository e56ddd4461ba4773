"""The synthetic demo city: departmental source files about persons, addresses and legal entities of
常熟市 (江苏省苏州市), with each office's noise and the hard negatives of real registry data, plus
truth.csv saying which real thing every record describes.

`generate_city(persons, seed, out_dir)` writes, deterministically per seed:

| file | source | kind |
|---|---|---|
| household_registry_person.jsonl | household_registry | person |
| migrant_registry_person.jsonl | migrant_registry | person |
| grid_collection_person.jsonl, grid_collection_address.jsonl | grid_collection | person, address |
| doorplate_platform_address.jsonl | doorplate_platform | address |
| rental_registry_person.csv, rental_registry_address.csv (UTF-8, BOM) | rental_registry | person, address |
| market_regulation_legal_entity.csv (GB18030) | market_regulation | legal_entity |
| tax_legal_entity.jsonl, tax_person.jsonl | tax | legal_entity, person |

and `truth.csv` (`source,kind,key,true_id`) and `manifest.json`. The world is built in `housing`,
`people` and `companies`; `sources` renders it with the noise rates listed at its top (the
`classic` profile). `generate_city(..., profile="field-notes")` writes the same world and the same
records as the offices of docs/field-notes.md write them (`fieldnotes`, frozen): the figure that
counts for match quality, since the resolver was not tuned to it.
"""

from __future__ import annotations

from hub.generate.city import CityManifest, SourceFile, generate_city
from hub.generate.fieldnotes import PROFILES

__all__ = ["PROFILES", "CityManifest", "SourceFile", "generate_city"]
