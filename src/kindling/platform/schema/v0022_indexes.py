"""Indexes on org_code of applications, user sessions and user MFA factors."""

# Deleting an organization finds its organization-scoped M2M applications by ``org_code``
# (``applications/sql.py`` ``organization_applications``) and deletes its members' MFA
# factors and its sessions by it (``organizations/sql.py`` ``delete``). The three columns
# are not foreign keys, so neither engine indexes them by itself, and each of those
# statements read the whole table. Plain b-tree indexes; rows with a NULL ``org_code``
# (environment-level sessions and factors, applications for no organization) are
# indexed too and never match ``org_code = ?``.
SQL = """
CREATE INDEX applications_org_code ON applications (org_code);
CREATE INDEX user_sessions_org_code ON user_sessions (org_code);
CREATE INDEX user_mfa_factors_org_code ON user_mfa_factors (org_code)
"""
