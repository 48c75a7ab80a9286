"""Schema migrations, one module per version: ``vNNNN_<name>.py`` defining ``SQL``.

Never edit a migration that has shipped; add a new version instead.
"""
