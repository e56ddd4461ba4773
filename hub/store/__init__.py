"""Storage: typed models, engines and sessions, migrations."""
