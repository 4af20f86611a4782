"""Accounts: users, argon2id passwords, bearer tokens, roles and site scoping."""
