"""HTTP views of the remediator, one blueprint per concern."""
