"""Plain-SQL migrations of the privacy tables (subject keys), one folder per dialect."""
