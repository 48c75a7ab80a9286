"""The OAuth 2.0 core, sans-I/O.

Nothing in this package performs I/O, reads the environment, looks at the clock
or imports the web framework or a database driver: parsed requests come in,
``TokenResponse`` values go out, and storage, signing and time arrive through
the small ports in ``ports.py``.
"""
