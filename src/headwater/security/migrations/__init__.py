"""Plain-SQL migrations of the security tables, one folder per dialect."""
