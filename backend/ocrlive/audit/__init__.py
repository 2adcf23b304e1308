"""The audit log: who did what to which patient's document, append-only and chained."""
