"""Talking to servers: the providers (a registry, ``providers``) and their transports (``backends``), replicas, the
servers judgebench starts (``server_specs`` says what a vllm:, sglang:, llamacpp: or local spec means, ``serve``
starts it), provider batch APIs (``batch``), Ray's workers, and what replies cost (``pricing``). Running a task
(the schedule, the executors, the runner, the cache) is judgebench.run's job; this package only sends and receives."""
