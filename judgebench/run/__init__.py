"""Running: endpoints and their spec grammar, backends (one per provider), the cache, the runner, evaluate."""
