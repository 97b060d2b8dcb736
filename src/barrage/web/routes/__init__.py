"""The app's routes by kind: reads, jobs, ingest and pages (each a router per app)."""
