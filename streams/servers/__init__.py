"""What a worker runs on: its Faust app, logs, web views, and PostgreSQL, Redis, Qdrant."""
