"""Plain-SQL migrations of the job tables, one folder per dialect (component ``jobs``)."""
