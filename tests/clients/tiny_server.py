"""A stand-in for a model server in the process tests of judgebench.clients.serve (a real process on loopback, not a
mock): it answers GET /v1/models with the model id it is given, after an optional load delay. It can crash while
loading or fault at its first request, ignore SIGTERM, or start a worker process of its own as vLLM does (writing the
worker's pid to a file)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("model")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--crash", type=int, help="print a loading error and exit with this code")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--worker-pid-file", type=Path)
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("--fault-on-post", action="store_true", help="die of SIGSEGV at the first POST, as a native "
                        "server faulting in a kernel does")
    args = parser.parse_args()
    if args.pid_file:
        args.pid_file.write_text(str(os.getpid()))
    print(f"loading {args.model}...", flush=True)
    if args.crash is not None:
        print("ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be "
              "stored in KV cache (9000).", flush=True)
        sys.exit(args.crash)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.worker_pid_file:
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        args.worker_pid_file.write_text(str(worker.pid))
    time.sleep(args.delay)
    body = json.dumps({"object": "list", "data": [{"id": args.model, "object": "model"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            found = self.path == "/v1/models"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def do_POST(self) -> None:
            if args.fault_on_post:
                print("computing the first batch...", flush=True)
                os.kill(os.getpid(), signal.SIGSEGV)
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
