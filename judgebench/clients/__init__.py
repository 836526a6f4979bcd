"""Talking to servers: providers and their transports (backends), replicas, the servers judgebench starts (vllm:,
sglang:, llamacpp:, the embedded model), provider batch APIs, Ray's workers, and what replies cost. Running a task
(the schedule, the executors, the runner, the cache) is judgebench.run's job; this package only sends and receives."""
