"""A request's life: its states, status reports, the one lifecycle, schedules, the client."""
