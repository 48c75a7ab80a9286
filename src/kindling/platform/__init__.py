"""The platform: machinery every resource shares.

Engines and migrations, the unit of work with its outbox of domain events, the
resource registry, operation declarations, typed parameters, pagination, the
error catalogue and the signing keyring. Nothing here names a resource.
"""
