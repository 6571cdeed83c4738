"""What travels on the topics: typed records, the topic catalog, deliveries, their metrics."""
