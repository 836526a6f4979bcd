"""Hostile input and faults, one test per case (issue 10). Cases tested beside the code they exercise:

- 429 with Retry-After, 500 and dropped connections retried, 400/401/403/404 not retried, endless failures
  bounded by the attempt limit and never cached: tests/run/test_runner_faults.py
- kill -9 mid-run then resume makes exactly the missing requests; a sentinel key in no file or output; both
  orders always judged: tests/run/test_integration.py (the real embedded server)
- every change that alters an answer is a cache miss and nothing else is: tests/run/test_cache_store.py and
  tests/judging/test_prompts.py (the frame code)
- duplicate item ids, answers or references that do not match the items: tests/tasks/test_loader.py
- torn tails and corrupt lines of results files: tests/formats/test_results_files.py
"""
