"""Seven real third-party libraries wrapped to the session store contract, as an
implementer would wrap them with ``sessionstore.toolkit`` (docs/toolkit.md), and run
through the conformance kit by tests/test_peers.py (docs/peers.md gives the verdicts).

One module per library; each module's docstring says what the library gives, what the
wrapper adds, and which capabilities it claims. ``redis_naive`` is wrong on purpose: the
GET-then-SET store a hurried implementer writes, which the kit must reject.
"""
