"""Where `manage.py collectstatic` puts the page's static files, and under which names.

WhiteNoise's CompressedManifestStaticFilesStorage names each file after its content
(`ui.js` → `ui.3f9a0c1b2d4e.js`, listed in STATIC_ROOT/staticfiles.json, which `{% static %}`
reads) and writes a `.br` and a `.gz` beside it, which the server sends to browsers that
accept them (playground/asgi.py). Before that, our own JS and CSS lose their comments and
spaces (rJSmin and rCSSmin, well-kept minifiers with no build tool of their own): the comments
that say why stay in static/, and the room page fits its budget on the wire (issue 13: under
60 KB). With DEBUG, the server sends static/ as it is.
"""

import rcssmin
import rjsmin
from django.core.files.base import ContentFile
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Ours, written readable; vendored libraries come minified, and Django admin's are its own.
MINIFIED = ("playground/", "playground.css", "playground-admin.css")


def minify(name: str, text: str) -> str | None:
    """`text` minified if `name` is one of ours (JS or CSS), else None."""
    if not name.startswith(MINIFIED):
        return None
    if name.endswith(".js"):
        return rjsmin.jsmin(text)
    if name.endswith(".css"):
        return rcssmin.cssmin(text)
    return None


class StaticStorage(CompressedManifestStaticFilesStorage):
    """The room page is ES modules: ui.js says `import ... from "./render.js"`. A browser
    caching hashed files forever would keep an old render.js if ui.js kept naming it by its
    plain name, so the hashed ui.js must import the hashed render.js too: Django rewrites
    `import`/`export ... from "./x.js"` (and `import("./x.js")`) to the hashed names, which in
    turn changes the importer's own hash whenever a module it imports changes."""

    support_js_module_import_aggregation = True

    def post_process(self, paths, dry_run=False, **options):
        if not dry_run:
            # collectstatic has copied every file here; ours are minified in place, and the
            # hashing below reads them from here rather than from static/.
            paths = dict(paths)
            for name in list(paths):
                source, path = paths[name]
                with source.open(path) as f:
                    small = minify(name, f.read().decode("utf-8"))
                if small is None:
                    continue
                if self.exists(name):
                    self.delete(name)
                self._save(name, ContentFile(small.encode("utf-8")))
                paths[name] = (self, name)
        yield from super().post_process(paths, dry_run, **options)
