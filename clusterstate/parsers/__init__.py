"""Pure parsers: bytes or rows in, typed objects out. Shared by the exporter and the remediator."""
