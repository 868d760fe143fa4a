"""Model operations: model versions (versions.py), prompt template versions (templates.py) and what a
version produced, sent back to review on rollback (rollback.py)."""
