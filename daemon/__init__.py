"""esd, the Embedded Services daemon: storefront orders into print MIS, exactly once."""

__version__ = "0.1.0"
