"""Services: the use cases, each a function over the storage interface.

Services validate input, apply one change inside one transaction and return
domain objects. They know nothing of HTTP or the CLI.
"""
