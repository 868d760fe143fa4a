"""Publishing to CMS connectors: publish, delivery, connectors, tasks and views."""
