_instruments = ("mcp >= 1.2.0",)
instrumented_module = "mcp"
