"""The three trend-stream services: collector, processor, maintenance (one Faust app each)."""
