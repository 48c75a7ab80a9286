"""Cryptography: master key derivation, sealed signing keys, client secrets, JWS, local TLS."""
