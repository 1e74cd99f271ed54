"""Language models as policy, value and opponent model for search (see docs/llm.md)."""
