"""The files a run leaves in its store: EDN and text histories, jepsen.log, timeline.html and
messages.svg."""
