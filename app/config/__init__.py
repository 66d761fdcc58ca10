"""The YAML configuration: its schema, its one-line errors, and the service it assembles."""
