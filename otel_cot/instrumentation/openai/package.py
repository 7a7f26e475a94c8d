_instruments = ("openai >= 1.0.0",)
instrumented_module = "openai"
