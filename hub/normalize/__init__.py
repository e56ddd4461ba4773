"""Pure normalization of identifiers, names, addresses and company names."""
