"""The conformance walk's request builders, one module per registered resource.

``framework.py`` is the shared machinery; ``<name>.py`` holds the valid-call builders of
the operations that ``kindling.resources.<name>`` declares. ``tests/test_conformance.py``
loads them from the resource registry (``framework.load_builders``).
"""
