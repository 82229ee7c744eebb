"""/s/<slug>: the site's one namespace of links, and the document a link exports and an import
reads.

Two apps put things under /s/: the library (scenarios) and the rooms (shared recordings). Both
import this package and neither imports the other for it, so it sits below them: it reads their
rows through Django's app registry by label (``apps.get_model("library", "Scenario")``, as a
ForeignKey string names a model), never by importing their code.

- `namespace`: what a slug may be, whether it is taken, choosing a free one, and what
  `/s/<slug>` opens (a scenario first, else a recording).
- `document`: the share/import document (``playground.scenario`` / ``playground.recording``,
  version 1): its check, its export, reading one from text, and what a recording row holds.
"""
