_instruments = ("google-genai >= 1.0.0",)
