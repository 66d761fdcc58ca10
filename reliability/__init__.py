"""``scripts/reliability``: tiffin against generated, hostile and faulty conditions, in figures.

Each section (``schema``, ``fuzz``, ``hostile``, ``soak``, ``faults``, ``security``) starts the
``tiffin serve`` processes it needs on 127.0.0.1, drives them, and returns ``Figure`` rows: what
was tried, what was measured, and whether it met the contract. ``--short`` runs every section
with small counts; the test suite runs that mode (``tests/reliability``).
"""
