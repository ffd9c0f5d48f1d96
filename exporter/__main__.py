"""`python -m exporter` runs cfha-exporter."""

from exporter.cli import main

raise SystemExit(main())
