"""Normalizers: turn one record's free-text fields into comparable values.

One module per concern (names, phonetics, dialects, places, descriptions, quantities). Each offers a
plain function on one value and a vectorized form on a Series. Nothing here imports from
:mod:`kinmatch.match`.
"""
