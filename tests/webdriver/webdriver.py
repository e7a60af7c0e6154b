"""A minimal W3C WebDriver client on the standard library: just what the
desktop tests use (sessions, elements, clicks, typing, pointer actions,
scripts, screenshots), so the tests need no package from PyPI."""

import base64
import http.client
import json
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

# Tries per request when the connection drops before an answer.
RETRIES = 4


class WebDriverError(Exception):
    """The driver answered with an error."""


class Session:
    """One WebDriver session: one running app."""

    def __init__(self, url, capabilities, timeout=60):
        self.url = url.rstrip("/")
        self.timeout = timeout
        value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.id = value["sessionId"]

    def _call(self, method, path, body=None):
        # tauri-driver forwards over pooled connections that WebKitWebDriver
        # sometimes has closed already; the request then fails before it
        # reaches the driver, and sending it again is safe.
        for attempt in range(RETRIES):
            try:
                return self._once(method, path, body)
            except (http.client.RemoteDisconnected, ConnectionError) as e:
                error = e
            except WebDriverError as e:
                if "SendRequest" not in str(e) and "connection" not in str(e).lower():
                    raise
                error = e
            time.sleep(0.2 * (attempt + 1))
        raise WebDriverError(f"{method} {path}: gave up after {RETRIES} tries: {error}")

    def _once(self, method, path, body):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response).get("value")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise WebDriverError(f"{method} {path}: {e.code} {detail}") from None

    def call(self, method, path, body=None):
        return self._call(method, f"/session/{self.id}{path}", body)

    def close(self):
        try:
            self._call("DELETE", f"/session/{self.id}")
        except (WebDriverError, OSError):
            pass

    def find_all(self, css):
        found = self.call("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, item[ELEMENT]) for item in found]

    def wait_for(self, css, timeout=30, what=None):
        """The first element matching `css` that is displayed, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for element in self.find_all(css):
                if element.displayed():
                    return element
            if time.monotonic() > deadline:
                raise TimeoutError(f"no visible {what or css} after {timeout} s")
            time.sleep(0.25)

    def wait_until(self, predicate, timeout=30, what="condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not met after {timeout} s")
            time.sleep(0.25)

    def texts(self, css):
        """The text content of every element matching `css`."""
        return self.script(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent)",
            css,
        )

    def script(self, source, *args):
        return self.call("POST", "/execute/sync", {"script": source, "args": list(args)})

    def screenshot(self, path):
        png = base64.b64decode(self.call("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)

    def hold(self, element, seconds):
        """Presses the mouse on `element`, holds it, releases it."""
        self._perform(self._press_hold_release(element, seconds))

    def hold_then_key(self, element, seconds, key):
        """Presses the mouse on `element`, holds it, presses `key` (a
        WebDriver key code) while still holding, then releases the mouse.
        Both sources run tick by tick, so the key falls in the two ticks
        between the hold and the release."""
        pointer = self._press_hold_release(element, seconds)
        pointer["actions"][3:3] = [{"type": "pause", "duration": 0}] * 2
        idle = [{"type": "pause", "duration": 0}] * 3
        keys = [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        keyboard = {"type": "key", "id": "keyboard", "actions": idle + keys + idle[:1]}
        self._perform(pointer, keyboard)

    @staticmethod
    def _press_hold_release(element, seconds):
        return {
            "type": "pointer",
            "id": "mouse",
            "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": {ELEMENT: element.id}, "x": 0, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pause", "duration": int(seconds * 1000)},
                {"type": "pointerUp", "button": 0},
            ],
        }

    def _perform(self, *sources):
        self.call("POST", "/actions", {"actions": list(sources)})
        self.call("DELETE", "/actions")


class Element:
    def __init__(self, session, element_id):
        self.session = session
        self.id = element_id

    def _call(self, method, path, body=None):
        return self.session.call(method, f"/element/{self.id}{path}", body)

    def click(self):
        self._call("POST", "/click", {})

    def type(self, text):
        self._call("POST", "/value", {"text": text})

    def text(self):
        return self._call("GET", "/text")

    def attribute(self, name):
        return self._call("GET", f"/attribute/{name}")

    def displayed(self):
        return bool(self._call("GET", "/displayed"))
