"""Test support shared by the gateway's test packages: configurations, servers and clerks."""
