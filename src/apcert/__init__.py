"""apcert: software for the IECQ Approved Process (AP) certification scheme."""

__version__ = "0.1.0"
