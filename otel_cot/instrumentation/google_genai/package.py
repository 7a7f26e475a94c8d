_instruments = ("google-genai >= 1.0.0",)
instrumented_module = "google.genai"
