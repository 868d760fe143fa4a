"""The text detectors behind `governance.policies`, one module per family (`banned_terms`,
`disclaimers`, `personal_data`, `claims`, `readability`, `patterns`, `injection`), the shared
`findings` types, and `rules`: the documented JSON configuration, its validator and compiler."""
