"""Data out: tables, figures, renderers and the YAML report builder. The only package that draws."""
