"""Collection: collectors, their jobs and tasks, the run of a plugin, reconcile and schedules."""
