"""Identity: domains, workspaces, projects, roles, apps and their client secrets, callers."""
