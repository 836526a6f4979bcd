"""Running a task: evaluate (the run, end to end) walks one schedule of comparisons through the pipeline (pipeline:
one-model tasks; battles: battles tasks), handing every request to an executor (executors: the live runner, a
provider batch, Ray, or the dry run that plan prices); the retry policy (retry), the bounded fan-out (fanout) and the
request cache (cache) are shared by all of them. Talking to servers is judgebench.clients'."""
