"""Plain-SQL migrations of the projection framework's own tables, one folder per dialect."""
