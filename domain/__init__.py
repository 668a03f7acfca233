"""The Item and its rules: plain Python, no framework."""
