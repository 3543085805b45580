"""Running graphs: plan (order + fingerprints), memo, the run itself, the event-loop thread."""
