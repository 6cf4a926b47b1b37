"""Parameterized SQL over the projections; every user value is bound server-side ({name:Type})."""
