"""Organizations: create, read, update, delete; handle, logos, policies, connections."""
