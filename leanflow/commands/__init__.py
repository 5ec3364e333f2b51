"""The CLI's commands, one module per kind of work."""
