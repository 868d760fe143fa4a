"""The agents' desk pages; agents/urls.py imports each module directly."""
