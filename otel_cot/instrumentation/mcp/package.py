_instruments = ("mcp >= 1.2.0",)
