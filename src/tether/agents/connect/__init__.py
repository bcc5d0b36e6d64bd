"""agents/connect package."""
