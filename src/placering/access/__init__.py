"""Who may do what on the shared PostgreSQL server: roles, users, the actor of a change."""
