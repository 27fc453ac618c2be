"""`enatool rss`: which receive queue a flow lands on, and flows crafted for a queue."""
