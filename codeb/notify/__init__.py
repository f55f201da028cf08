"""Telling people things: mail through the server's own SMTP pickup folder (Web Push to come)."""
