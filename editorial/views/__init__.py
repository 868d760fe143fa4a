"""HTML views of the desk, one module per domain; editorial/urls.py imports the modules.

Parse → service → render. Access is checked by the selectors and again by the services."""
