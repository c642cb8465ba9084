"""Notifications to people: webhooks (generic JSON, Slack, Discord, Telegram) sent from
their own threads, so a slow or dead endpoint never delays the bridge's work."""
