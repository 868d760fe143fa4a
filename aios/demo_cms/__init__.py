"""The built-in demo CMS: a webhook receiver to publish to when no real CMS is at hand."""
