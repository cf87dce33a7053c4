"""Stores in other languages: the driver protocol (spec/driver-protocol.md).

- :mod:`.transforms` — update callbacks as data, the protocol's closed vocabulary;
- :mod:`.values` — Python values to and from the protocol's JSON;
- :mod:`.child` — one server process: requests, answers, time limits, its stderr;
- :mod:`.client` — ``exec:COMMAND`` targets: a ``SessionStore`` over a server;
- :mod:`.serve` — the protocol's server side for any of our stores
  (``python -m sessionstore_conformance.wire.serve memory://``).
"""
