"""A real OpenID Connect provider process for tests: `oidc-provider-mock` (PyPI) served
by werkzeug on 127.0.0.1:PORT. People are set with PUT /users/<sub> {claims}.

    python -m tests.helpers.oidc_provider PORT
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import oidc_provider_mock
import werkzeug.serving


def main(port: int) -> None:
    app = oidc_provider_mock.app(require_nonce=True)
    werkzeug.serving.run_simple("127.0.0.1", port, app, threaded=True)


class ProviderProcess:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.oidc_provider", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/.well-known/openid-configuration", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError("the OIDC provider did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]))
