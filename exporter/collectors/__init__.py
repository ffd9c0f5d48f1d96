"""One module per observed subsystem; `exporter.registry` lists them."""
