"""``make demo``: the seed scenario end to end on the embedded default (see ``scenario``)."""
