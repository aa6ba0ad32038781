"""Search spaces: what a candidate is and the shared weights it runs on."""
