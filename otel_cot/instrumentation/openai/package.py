_instruments = ("openai >= 1.0.0",)
