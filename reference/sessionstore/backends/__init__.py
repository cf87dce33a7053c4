"""Reference backends. Each module exposes one store class and an ``open_*`` opener."""
