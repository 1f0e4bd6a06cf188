"""Comparisons: one module per comparison, each a :class:`~kinmatch.match.comparisons.base.Comparison`
that owns its columns, encoding, levels, labels and explanation (see :mod:`.base`)."""
