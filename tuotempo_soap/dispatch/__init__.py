"""Getting messages out: the outbox worker, the senders behind one small
interface (SMTP e-mail, a configurable HTTP gateway, a file sender for
development), their configuration, rate limits, and delivery receipts."""
