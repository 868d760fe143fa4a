"""The agent pipeline: runs, the kind table, the steps and the one streamed-section writer."""
