"""agents/extension package."""
