"""Running the system: offsets and lag, inspection, `trendctl`, the configuration reference."""
