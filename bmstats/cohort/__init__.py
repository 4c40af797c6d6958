"""Data in: canonical schema, loaders, validation and endpoint derivation. Imports neither estimate nor report."""
