"""Upstream providers and their key pools: choosing keys, recording their health, testing a
connection, and the provider admin. The models live in chat.models (docs/architecture.md,
"Providers and key pools")."""
