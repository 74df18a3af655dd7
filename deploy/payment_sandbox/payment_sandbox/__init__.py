"""Payment gateway sandbox: WeChat Pay API v3 and Alipay's open API, as an outside process.

It speaks only the gateways' published protocols and imports nothing of Sunshine's.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
