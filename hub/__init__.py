"""The link hub: resolves a city's person, address and legal-entity records into golden entities."""

__version__ = "0.1.0"
