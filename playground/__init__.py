"""The playground's Django side: settings, views, and (later) the rooms that host broker_core."""
