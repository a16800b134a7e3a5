"""APScheduler service and thin job functions (issue 6)."""
