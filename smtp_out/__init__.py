"""Outbound mail: content-free notifications, transports (SMTP relay or outbox directory) and
the worker that drains the persistent outbound queue held by `mailbox_store`."""
