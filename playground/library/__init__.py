"""The scenario library: scenarios as database rows an admin can edit, the built-ins loaded
from broker_core/scenarios/*.json, import and export. The rules live in broker_core; this app
stores, maps and shows them (see docs/ARCHITECTURE.md, "Scenario library and admin")."""
