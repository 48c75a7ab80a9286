"""The ``kindling`` command line: the only package that imports click."""
