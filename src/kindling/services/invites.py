"""Organization invitations."""
