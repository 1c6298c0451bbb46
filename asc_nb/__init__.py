"""asc-nb."""
