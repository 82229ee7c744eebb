"""The room page's weight on the wire: the HTML, and every file it loads, as a browser that
accepts Brotli and gzip receives them from a running server.

    from tests.page_bytes import room_page_bytes
    print(room_page_bytes("http://127.0.0.1:8000", "/s/amazon-orders").table())

Measure a server with DEBUG off (`collected_server()` starts one): with DEBUG (`make run`)
files come from static/ as they are, uncompressed and under plain names.

What is followed is what a browser fetches while the page loads: the page's stylesheets and
scripts, each stylesheet's url() and @import, and each module script's static `import` and
`export ... from` (recursively). Dynamic `import()` is left out: it loads on demand, not
with the page. Bytes are response bodies (HTTP headers not counted); "wire" is the body as
sent, compressed or not, "raw" the body once decoded.
"""

import contextlib
import gzip
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import brotli

ROOT = Path(__file__).resolve().parent.parent

# `import x from "./a.js"`, `import {a, b} from "./a.js"`, `export {a} from "./a.js"`,
# `import "./a.js"`, each at the start of a line or right after a `;` (minified code, as
# collectstatic serves it, has them one after another on a line), so prose in a comment is
# not taken for one; a clause may span lines, but not a quote or a semicolon.
MODULE_IMPORT = re.compile(
    r"""(?:^|(?<=;))[ \t]*"""
    r"""(?:(?:import|export)\b[^;"'`]*?\bfrom[ \t]*|import[ \t]*)["']([^"']+)["']""",
    re.MULTILINE,
)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+?)["']?\s*\)|@import\s+["']([^"']+)["']""")


def module_imports(source: str) -> list[str]:
    """The specifiers a module imports statically, in order: ["./model.js", ...]."""
    return [m.group(1) for m in MODULE_IMPORT.finditer(source)]


@dataclass(frozen=True)
class FileBytes:
    """One response: `url` is the path requested (e.g. /static/playground/ui.<hash>.js)."""

    url: str
    kind: str  # "page", "stylesheet", "script", "module", or "asset" (from CSS)
    status: int
    encoding: str  # Content-Encoding: "br", "gzip", or "identity"
    wire: int
    raw: int
    cache_control: str
    body: bytes = field(repr=False)  # decoded


@dataclass(frozen=True)
class PageBytes:
    """The page first, then each file in the order it was found."""

    files: list[FileBytes]

    @property
    def wire(self) -> int:
        return sum(f.wire for f in self.files)

    @property
    def raw(self) -> int:
        return sum(f.raw for f in self.files)

    def table(self) -> str:
        """One line a file and a total, for a test's or a benchmark's output."""
        width = max(len(f.url) for f in self.files)
        lines = [f"{'file':<{width}}  {'wire B':>8}  {'raw B':>8}  encoding"]
        lines += [f"{f.url:<{width}}  {f.wire:>8}  {f.raw:>8}  {f.encoding}" for f in self.files]
        lines.append(f"{'total':<{width}}  {self.wire:>8}  {self.raw:>8}")
        return "\n".join(lines)


class _PageLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (kind, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        rel = (a.get("rel") or "").lower().split()
        if tag == "link" and a.get("href") and {"stylesheet", "modulepreload", "icon"} & set(rel):
            self.links.append(("module" if "modulepreload" in rel else
                               "stylesheet" if "stylesheet" in rel else "asset", a["href"]))
        elif tag == "script" and a.get("src"):
            self.links.append(("module" if a.get("type") == "module" else "script", a["src"]))
        elif tag in ("img", "source") and a.get("src"):
            self.links.append(("asset", a["src"]))


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "identity":
        return body
    raise ValueError(f"unexpected Content-Encoding {encoding!r}")


def room_page_bytes(base_url: str, room_path: str, *, accept_encoding: str = "br, gzip",
                    timeout_s: float = 10.0) -> PageBytes:
    """Fetch `room_path` (a room, /r/<id>, or a scenario's link, /s/<name>, which makes a
    room and redirects to it) from `base_url` and every file the page loads, sending
    `Accept-Encoding: accept_encoding`; each file once. A failed fetch is recorded with its
    status (and 0 bytes), not raised: the caller decides what a 404 means."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def fetch(url: str, kind: str) -> FileBytes:
        request = urllib.request.Request(url, headers={"Accept-Encoding": accept_encoding})
        try:
            with opener.open(request, timeout=timeout_s) as response:
                status, headers, body = response.status, response.headers, response.read()
                url = response.geturl()  # after redirects: /s/<name> lands on /r/<id>
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, b""
        encoding = headers.get("Content-Encoding", "identity").strip().lower() or "identity"
        decoded = _decode(body, encoding) if body else b""
        return FileBytes(urlsplit(url).path, kind, status, encoding, len(body), len(decoded),
                         headers.get("Cache-Control", ""), decoded)

    page = fetch(urljoin(base_url, room_path), "page")
    page_url = urljoin(base_url, page.url)
    files, seen = [page], {page.url}
    parser = _PageLinks()
    parser.feed(page.body.decode("utf-8", "replace"))
    queue = [(kind, urljoin(page_url, href)) for kind, href in parser.links]
    while queue:
        kind, url = queue.pop(0)
        if not url.startswith(("http://", "https://")) or urlsplit(url).path in seen:
            continue  # data: URLs, and each file once
        seen.add(urlsplit(url).path)
        got = fetch(url, kind)
        files.append(got)
        text = got.body.decode("utf-8", "replace")
        if kind == "module":
            queue += [("module", urljoin(url, spec)) for spec in module_imports(text)]
        elif kind == "stylesheet":
            queue += [("stylesheet" if m.group(2) else "asset", urljoin(url, m.group(1) or
                                                                         m.group(2)))
                      for m in CSS_URL.finditer(text)]
    return PageBytes(files)


def collect_static(static_root: Path, env: Mapping[str, str] | None = None) -> Path:
    """`manage.py collectstatic` into `static_root`, as `make run` does into staticfiles/:
    content-hashed names, a .br and a .gz beside each file, the manifest."""
    env = {**(os.environ if env is None else env), "DJANGO_STATIC_ROOT": str(static_root),
           "DJANGO_SETTINGS_MODULE": "playground.settings"}
    # collectstatic needs no secret; with DEBUG off settings would want DJANGO_SECRET_KEY.
    env.setdefault("DJANGO_SECRET_KEY", "collectstatic-only-" + "x" * 40)
    done = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"collectstatic into {static_root} failed:\n{done.stderr}")
    return static_root


@contextlib.contextmanager
def collected_server(timeout_s: float = 60.0) -> Iterator[str]:
    """A Daphne with DEBUG off, as a server is deployed: static files collected into a temporary
    STATIC_ROOT, its own migrated SQLite database with the built-in scenarios. Yields its base
    URL; stops it afterwards."""
    with tempfile.TemporaryDirectory(prefix="page-bytes-") as work:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
               "DJANGO_SECRET_KEY": "page-bytes-only-" + "x" * 40, "DJANGO_DEBUG": "0",
               "DATABASE_URL": f"sqlite:///{work}/db.sqlite3", "PYTHONUNBUFFERED": "1"}
        env.pop("REDIS_URL", None)
        collect_static(Path(work) / "static", env)
        env["DJANGO_STATIC_ROOT"] = f"{work}/static"
        for command in (["migrate", "--noinput"], ["load_scenarios"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                           check=True, capture_output=True, timeout=timeout_s)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        with open(f"{work}/daphne.log", "wb") as log:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                 "playground.asgi:application"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("daphne did not start:\n" +
                                           Path(f"{work}/daphne.log").read_text()) from None
                    time.sleep(0.2)
            yield base
        finally:
            from tests.conftest import stop_process

            stop_process(proc)


if __name__ == "__main__":
    # python -m tests.page_bytes [BASE_URL [ROOM_PATH]]: without a URL, a server of its own.
    room = sys.argv[2] if len(sys.argv) > 2 else "/s/amazon-orders"
    if len(sys.argv) > 1:
        print(room_page_bytes(sys.argv[1], room).table())
    else:
        with collected_server() as url:
            print(room_page_bytes(url, room).table())
