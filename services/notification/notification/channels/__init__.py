"""Delivery channels for notices: e-mail (SMTP), signed webhooks, SMS/WeChat gateways."""
