_instruments = ("anthropic >= 0.40.0",)
instrumented_module = "anthropic"
