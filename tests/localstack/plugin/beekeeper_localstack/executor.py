"""A LocalStack Lambda executor that runs a function's `bootstrap` as a local process behind a Lambda
Runtime API, instead of in a Docker container (which these machines and CI do not have).

Selected with LAMBDA_RUNTIME_EXECUTOR=beekeeper_local. Each execution environment is one process started
the way Lambda starts a custom runtime (`provided.al2023`): the unzipped code as its working directory,
the function's configured environment plus Lambda's own variables, and AWS_LAMBDA_RUNTIME_API pointing at
a small Runtime API server this executor runs on a free loopback port. The process's first
`GET /runtime/invocation/next` is its readiness; `POST /runtime/init/error` (or exiting) is a failed init.
This is the part of the full-stack suite that is ours, not LocalStack's: the gateway and the AWS APIs are
LocalStack's, the Lambda sandbox is this file.
"""

import json
import logging
import os
import queue
import stat
import subprocess
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

LOG = logging.getLogger(__name__)
PREFIX = "/2018-06-01/runtime"
# Logs kept per environment: enough for the last few invocations' output when a test fails.
MAX_LOG_CHARS = 200_000


def _settled(fut: Future) -> bool:
    """Waits briefly for `fut`, so a caller can also watch the process between waits."""
    try:
        fut.exception(timeout=0.02)
    except FutureTimeout:
        return False
    return True


class _RuntimeApi(ThreadingHTTPServer):
    """The Lambda Runtime API for one process: one invocation at a time, as Lambda gives one."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pending: "queue.Queue[dict | None]" = queue.Queue()
        self.ready: Future = Future()
        self.result: Future | None = None
        self.deadline_ms = 0


class _Handler(BaseHTTPRequestHandler):
    server: _RuntimeApi

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        LOG.debug("runtime api: " + format, *args)

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404)
        if not self.server.ready.done():
            self.server.ready.set_result(True)
        job = self.server.pending.get()
        if job is None:  # stopping: the process is killed right after
            return self._reply(500)
        self._reply(
            200,
            job["payload"].encode(),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": job["invoke-id"],
                "Lambda-Runtime-Deadline-Ms": str(self.server.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": job["invoked-function-arn"],
                "Lambda-Runtime-Trace-Id": job.get("trace-id") or "",
            },
        )

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path[len(PREFIX) :].strip("/").split("/")
        if parts == ["init", "error"]:
            if not self.server.ready.done():
                self.server.ready.set_exception(
                    LambdaRuntimeException(f"init error: {body.decode(errors='replace')}")
                )
            return self._reply(202, b'{"status":"OK"}')
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            fut = self.server.result
            if fut is not None and not fut.done():
                fut.set_result(InvocationResult(parts[1], body, parts[2] == "error", None))
            return self._reply(202, b'{"status":"OK"}')
        self._reply(404)


class LocalProcessExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self.api = _RuntimeApi()
        self.process: subprocess.Popen | None = None
        self.logs: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.api.serve_forever, daemon=True).start()

    def _gateway(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}"

    def start(self, env_vars: dict[str, str]) -> None:
        code = self.function_version.config.code.get_unzipped_code_location()
        bootstrap = code / "bootstrap"
        if not bootstrap.is_file():
            raise LambdaRuntimeException(f"{bootstrap} is missing: the zip must hold a `bootstrap` at its root")
        bootstrap.chmod(bootstrap.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        env = {k: str(v) for k, v in env_vars.items()}
        env.update(
            AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.api.server_address[1]}",
            LAMBDA_TASK_ROOT=str(code),
            # The functions' SDK clients reach LocalStack on loopback, as they would reach AWS's endpoints.
            AWS_ENDPOINT_URL=self._gateway(),
            PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        )
        self.process = subprocess.Popen(
            [str(bootstrap)],
            cwd=str(code),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._collect_logs, daemon=True).start()
        deadline = time.monotonic() + 20
        while not _settled(self.api.ready):
            if self.process.poll() is not None:
                raise LambdaRuntimeException(
                    f"bootstrap exited ({self.process.returncode}) during init:\n{self.get_logs()}"
                )
            if time.monotonic() > deadline:
                raise LambdaRuntimeException("bootstrap did not ask for an invocation within 20 s")
        self.api.ready.result()  # raises the init error, if that is how init ended

    def _collect_logs(self):
        for line in self.process.stdout:
            text = line.decode(errors="replace")
            LOG.debug("[%s] %s", self.function_version.id.function_name, text.rstrip())
            with self.lock:
                self.logs.append(text)
                while sum(map(len, self.logs)) > MAX_LOG_CHARS:
                    self.logs.pop(0)

    def stop(self) -> None:
        self.api.pending.put(None)
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.api.shutdown()
        self.api.server_close()

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"{self._gateway()}/_localstack_lambda/{self.id}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        timeout = float(self.function_version.config.timeout or 3)
        self.api.result = Future()
        self.api.deadline_ms = int((time.time() + timeout) * 1000)
        start = len(self.get_logs())
        self.api.pending.put(payload)
        deadline = time.monotonic() + timeout
        while not _settled(self.api.result):
            if self.process.poll() is not None:
                return self._error(payload, "Runtime.ExitError", f"bootstrap exited ({self.process.returncode})")
            if time.monotonic() > deadline:
                # Lambda ends an invocation that outlives its timeout; the environment is not reused.
                self.process.kill()
                return self._error(payload, "Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
        result = self.api.result.result()
        result.logs = self.get_logs()[start:]
        return result

    def _error(self, payload, kind: str, message: str) -> InvocationResult:
        body = json.dumps({"errorType": kind, "errorMessage": message}).encode()
        return InvocationResult(payload["invoke-id"], body, True, self.get_logs())

    def get_logs(self) -> str:
        with self.lock:
            return "".join(self.logs)

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            function_version.config.code.destroy_cached()


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "beekeeper_local"

    def load(self, *args, **kwargs):
        return LocalProcessExecutor
