"""The entry points and tools around the rules: the ``skilltroc`` command (:mod:`.cli`),
the scenario runner (:mod:`.scenarios`), the rule docs generator (:mod:`.docsgen`) and
the refund matrix it observes through the service (:mod:`.refund_matrix`), the
benchmarks (:mod:`.bench`, :mod:`.bench_scale`) and the ledger demo (:mod:`.demo`).

Nothing in the rules, the service or the stores imports from here.
"""
