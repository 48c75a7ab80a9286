"""The 54 bad-input and fault cases of RELIABILITY-AND-USERS.md A12, one test (or more)
per case, each named ``test_case_NN_...``; ``test_mapping.py`` fails when a case has none.

Grouped as A12 groups them: the token endpoint (1-22), bearer tokens on the Management
API (23-36), Management API payloads (37-44) and faults (45-54). docs/security.md
("A12 cases") maps every case to Kindling's answer and to its test.
"""
