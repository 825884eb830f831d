"""One engine per model family (`base.Engine`); the table that picks one for a checkpoint is `models/families.py`."""
