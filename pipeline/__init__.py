"""letters: council answers in, verdicts on promises out."""

__version__ = "0.1.0"
