"""The guarded model call and what guards it: providers, circuit breaker, budgets, prompt cache, backoff."""
