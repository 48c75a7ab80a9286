"""Why key material cannot be used: raised by ``kindling.crypto``, translated at its callers.

The crypto package sits below the platform, so it has an error of its own; the
composition root and the keyring turn it into the platform's ``ConfigurationError``
(refuse to start, one line naming the cause).
"""


class KeyMaterialError(Exception):
    """The master key or a sealed key is unusable; the message names the cause and the fix."""
