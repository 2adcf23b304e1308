"""SQLite persistence: tasks, the event log and results. All writes go through one writer."""
