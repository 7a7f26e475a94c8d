_instruments = ("openai-agents >= 0.1.0",)
instrumented_module = "agents"
