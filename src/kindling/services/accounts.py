"""A user's password, MFA factors, sessions, identities and claims refresh."""
